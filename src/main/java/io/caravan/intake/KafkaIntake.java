package io.caravan.intake;

import io.caravan.outlet.ResultJson;
import io.caravan.task.InvalidTaskException;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.component.kafka.KafkaConstants;

/**
 * The Kafka side of Caravan: turns a record of {@code llm.tasks} into a task (or an invalid record), and builds
 * the records that leave for {@code llm.results} and {@code llm.tasks.dlq}. The original bytes and headers are
 * kept so the dead letter is the record unchanged.
 */
public final class KafkaIntake {

    static final String ORIGINAL = "caravanOriginal";
    static final String INVALID = "caravanInvalid";
    public static final String ERROR_TYPE_HEADER = "caravan-error-type";
    public static final String ERROR_MESSAGE_HEADER = "caravan-error-message";

    private final TaskIntake intake;

    public KafkaIntake(TaskIntake intake) {
        this.intake = intake;
    }

    /** Keeps the original record and opens the task, or marks the record invalid. Never throws. */
    public void accept(Exchange exchange) {
        Message in = exchange.getMessage();
        byte[] bytes = in.getBody(byte[].class);
        String key = in.getHeader(KafkaConstants.KEY, String.class);
        Map<String, byte[]> headers = recordHeaders(in);
        exchange.setProperty(ORIGINAL, new OriginalRecord(key, bytes, headers));
        try {
            TaskContext ctx = intake.open(exchange, bytes, key, TaskContext.Source.KAFKA);
            ctx.recordHeaders(headers);
        } catch (InvalidTaskException e) {
            exchange.setProperty(INVALID, e);
        }
    }

    public boolean isTask(Exchange exchange) {
        return exchange.getProperty(INVALID) == null;
    }

    /** Whether a result record goes out: always for tasks, and for invalid records whose id is known. */
    public boolean hasResult(Exchange exchange) {
        InvalidTaskException invalid = exchange.getProperty(INVALID, InvalidTaskException.class);
        return invalid == null || invalid.taskId() != null;
    }

    /** Whether the record also goes to the dead-letter topic: invalid, or the task ended in error. */
    public boolean failed(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        return exchange.getProperty(INVALID) != null || (ctx != null && ctx.error() != null);
    }

    public void resultRecord(Exchange exchange) {
        OriginalRecord original = exchange.getProperty(ORIGINAL, OriginalRecord.class);
        InvalidTaskException invalid = exchange.getProperty(INVALID, InvalidTaskException.class);
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        original.headers().forEach(out::setHeader);
        if (invalid != null) {
            out.setHeader(KafkaConstants.KEY, invalid.taskId());
            out.setBody(Json.bytes(ResultJson.invalid(invalid.taskId(), invalid.getMessage())));
        } else {
            TaskContext ctx = TaskContext.of(exchange);
            out.setHeader(KafkaConstants.KEY, ctx.task().id());
            out.setBody(Json.bytes(ResultJson.result(ctx)));
        }
    }

    public void deadLetterRecord(Exchange exchange) {
        OriginalRecord original = exchange.getProperty(ORIGINAL, OriginalRecord.class);
        InvalidTaskException invalid = exchange.getProperty(INVALID, InvalidTaskException.class);
        TaskContext ctx = TaskContext.of(exchange);
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        original.headers().forEach(out::setHeader);
        String key;
        if (invalid != null) {
            key = invalid.taskId() != null ? invalid.taskId() : original.key();
            out.setHeader(ERROR_TYPE_HEADER, "invalid_task");
            out.setHeader(ERROR_MESSAGE_HEADER, invalid.getMessage());
        } else {
            key = ctx.task().id();
            out.setHeader(ERROR_TYPE_HEADER, ctx.error().type().wireName());
            out.setHeader(ERROR_MESSAGE_HEADER, ctx.error().message());
        }
        if (key != null) {
            out.setHeader(KafkaConstants.KEY, key);
        }
        out.setBody(original.bytes() == null ? new byte[0] : original.bytes());
    }

    /** The record's own headers (not Camel's or the Kafka component's), as bytes. */
    private static Map<String, byte[]> recordHeaders(Message in) {
        Map<String, byte[]> headers = new LinkedHashMap<>();
        in.getHeaders().forEach((name, value) -> {
            if (name.startsWith("kafka.") || name.startsWith("Camel") || name.startsWith("camel")) {
                return;
            }
            if (value instanceof byte[] b) {
                headers.put(name, b);
            } else if (value != null) {
                headers.put(name, value.toString().getBytes(StandardCharsets.UTF_8));
            }
        });
        return headers;
    }

    record OriginalRecord(String key, byte[] bytes, Map<String, byte[]> headers) {}
}
