package io.caravan.outlet;

import io.caravan.task.TaskContext;
import java.util.ArrayList;
import java.util.List;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.Message;
import org.apache.camel.component.kafka.KafkaConstants;
import org.apache.camel.support.DefaultMessage;

/** Prepares a finished task's usage events (one per attempt) as one batch for the Kafka producer. */
public final class UsageRecords {

    private final boolean publish;

    public UsageRecords() {
        this(true);
    }

    /** {@code publish=false}: no usage topic (a batch run without Kafka); events are not emitted. */
    public UsageRecords(boolean publish) {
        this.publish = publish;
    }

    public void prepare(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        // one message per event, so each record carries the task id as its key
        List<Message> records = new ArrayList<>();
        for (byte[] event : ResultJson.usageEvents(ctx)) {
            Message record = new DefaultMessage(exchange.getContext());
            record.setHeader(KafkaConstants.KEY, ctx.task().id());
            record.setBody(event);
            records.add(record);
        }
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        out.setBody(records);
    }

    /** Whether the task has usage events to send now; a streamed answer sends its own once the stream ended. */
    public boolean any(TaskContext ctx) {
        return publish && ctx != null && !ctx.attempts().isEmpty() && ctx.stream() == null;
    }
}
