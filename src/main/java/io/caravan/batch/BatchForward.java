package io.caravan.batch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.intake.HttpIntake;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.component.kafka.KafkaConstants;

/**
 * An HTTP task that goes the batch way: an HTTP caller cannot wait hours, so the task is put on the tasks topic (with
 * its id, so its result on the results topic carries the id the caller got) and answered 202 at once.
 */
public final class BatchForward {

    /** The task's record for the tasks topic: its JSON with its id, keyed by its id, no HTTP headers. */
    public void prepare(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        Message m = exchange.getMessage();
        byte[] body = m.getBody(byte[].class);
        JsonNode root = io.caravan.provider.AdapterSupport.parseOrNull(body);
        ObjectNode task = root instanceof ObjectNode o ? o : Json.object();
        task.put("id", ctx.task().id());
        m.getHeaders().clear();
        m.setHeader(KafkaConstants.KEY, ctx.task().id());
        m.setBody(Json.bytes(task));
    }

    /** {@code 202 {"id", "status": "accepted", "mode": "batch"}}. */
    public void accepted(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        ObjectNode body = Json.object();
        body.put("id", ctx.task().id());
        body.put("status", "accepted");
        body.put("mode", TaskContext.MODE_BATCH);
        body.put("routing_reason", ctx.routingReason());
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, 202);
        out.setBody(HttpIntake.jsonBody(body));
    }
}
