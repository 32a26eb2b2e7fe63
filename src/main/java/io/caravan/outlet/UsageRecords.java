package io.caravan.outlet;

import io.caravan.task.TaskContext;
import java.util.List;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.Message;
import org.apache.camel.component.kafka.KafkaConstants;

/** Prepares a finished task's usage events (one per attempt) as one batch for the Kafka producer. */
public final class UsageRecords {

    public void prepare(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        List<byte[]> events = ResultJson.usageEvents(ctx);
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        out.setHeader(KafkaConstants.KEY, ctx.task().id());
        out.setBody(events);
    }

    public boolean any(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        return ctx != null && !ctx.attempts().isEmpty();
    }
}
