package io.caravan.intake;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.outlet.ResultJson;
import io.caravan.outlet.UsageRecords;
import io.caravan.resilience.ErrorClass;
import io.caravan.task.InvalidTaskException;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskError;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.component.kafka.KafkaConstants;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka side of Caravan: turns a record of {@code llm.tasks} into a task (or an invalid record), and builds
 * the records that leave for {@code llm.results} and {@code llm.tasks.dlq}. The original bytes and headers are
 * kept so the dead letter is the record unchanged.
 */
public final class KafkaIntake {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaIntake.class);
    static final String ORIGINAL = "caravanOriginal";
    static final String INVALID = "caravanInvalid";
    public static final String ERROR_TYPE_HEADER = "caravan-error-type";
    public static final String ERROR_MESSAGE_HEADER = "caravan-error-message";
    /** Where a dead letter too large to carry its record came from (the record itself stays there). */
    public static final String ORIGINAL_TOPIC_HEADER = "caravan-original-topic";
    public static final String ORIGINAL_PARTITION_HEADER = "caravan-original-partition";
    public static final String ORIGINAL_OFFSET_HEADER = "caravan-original-offset";
    public static final String ORIGINAL_BYTES_HEADER = "caravan-original-bytes";
    /** A record header longer than this is left off a result or dead letter cut down to fit. */
    private static final int SMALL_HEADER_BYTES = 1024;

    private final TaskIntake intake;
    private final FatalErrors fatal;

    public KafkaIntake(TaskIntake intake, FatalErrors fatal) {
        this.intake = intake;
        this.fatal = fatal;
    }

    /**
     * Keeps the original record and opens the task, or marks the record invalid. Never throws: a record that
     * fails the intake route would be read again and again (the consumer seeks back to it), holding its partition.
     */
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
        } catch (RuntimeException | Error e) {
            fatal.check(e, "the Kafka intake");
            LOG.error("record {}-{} offset {} could not be read; it gets an error result and a dead letter",
                    in.getHeader(KafkaConstants.TOPIC), in.getHeader(KafkaConstants.PARTITION),
                    in.getHeader(KafkaConstants.OFFSET), e);
            exchange.removeProperty(TaskContext.PROPERTY);
            exchange.setProperty(INVALID, new InvalidTaskException(
                    "the record could not be read: internal error (" + e.getClass().getName() + ")", key));
        }
    }

    /**
     * The worker's {@code doCatch} around the task route: something in Caravan broke (an exception no step
     * turned into an error class, or a {@code java.lang.Error}, which Camel hands over wrapped). A JVM error stops
     * the process ({@link FatalErrors}); anything else ends the task with a {@code server_error} result and a dead
     * letter, so its offset moves on.
     */
    public void taskBroke(Exchange exchange) {
        Exception caught = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        fatal.check(caught, "a Kafka task");
        Throwable cause = caught != null && caught.getCause() instanceof Error error ? error : caught;
        TaskContext ctx = TaskContext.of(exchange);
        LOG.error("task {} ({}) broke inside Caravan; it gets a server_error result and a dead letter",
                ctx == null ? null : ctx.task().id(), where(exchange), cause);
        if (ctx != null) {
            ctx.fail(new TaskError(ErrorClass.SERVER_ERROR, "internal error in Caravan ("
                    + (cause == null ? "unknown" : cause.getClass().getName()) + ")"));
        }
    }

    /**
     * After the task route: a task that came back with neither an answer nor an error (a step broke and Camel
     * carried on regardless, as it does when a Java processor in a called route throws an Error) is a
     * {@code server_error}, never a result without a status.
     */
    public void ensureOutcome(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        if (isTask(exchange) && ctx != null && !ctx.done()) {
            LOG.error("task {} ({}) ended with neither an answer nor an error; it gets a server_error result",
                    ctx.task().id(), where(exchange));
            ctx.fail(new TaskError(ErrorClass.SERVER_ERROR, "internal error in Caravan (the task ended unanswered)"));
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

    /**
     * The broker refused the result as too large, even compressed: the task ends as {@code result_too_large},
     * and a small result takes its place: no output, the metadata cut to the usage events' bounded subset, the
     * attempts and usage kept, only short record headers.
     */
    public void resultTooLarge(Exchange exchange) {
        Message out = exchange.getMessage();
        byte[] refused = out.getBody(byte[].class);
        TaskContext ctx = TaskContext.of(exchange);
        InvalidTaskException invalid = exchange.getProperty(INVALID, InvalidTaskException.class);
        String id = invalid != null ? invalid.taskId() : ctx.task().id();
        String message = "the result (" + (refused == null ? 0 : refused.length)
                + " bytes) is larger than the results topic takes, even compressed; output left out, metadata cut down";
        LOG.warn("result of task {} ({}) is too large to publish: {}", id, where(exchange), message);
        ObjectNode small;
        if (invalid != null) {
            small = ResultJson.invalid(id, invalid.getMessage());
        } else {
            ctx.fail(new TaskError(ErrorClass.RESULT_TOO_LARGE, message));
            small = ResultJson.result(ctx);
            small.set("metadata", UsageRecords.boundedMetadata(ctx.metadata()));
        }
        out.getHeaders().clear();
        smallHeaders(exchange).forEach(out::setHeader);
        out.setHeader(KafkaConstants.KEY, id);
        out.setBody(Json.bytes(small));
    }

    /**
     * The broker refused the dead letter as too large: one that fits goes instead, with the error headers, where
     * the original record is (topic, partition, offset, size) and no body.
     */
    public void deadLetterTooLarge(Exchange exchange) {
        Message out = exchange.getMessage();
        Object key = out.getHeader(KafkaConstants.KEY);
        Object type = out.getHeader(ERROR_TYPE_HEADER);
        Object message = out.getHeader(ERROR_MESSAGE_HEADER);
        OriginalRecord original = exchange.getProperty(ORIGINAL, OriginalRecord.class);
        LOG.warn("dead letter of {} ({}) is too large to publish: one without the record's bytes goes instead", key,
                where(exchange));
        out.getHeaders().clear();
        if (key != null) {
            out.setHeader(KafkaConstants.KEY, key);
        }
        out.setHeader(ERROR_TYPE_HEADER, type);
        out.setHeader(ERROR_MESSAGE_HEADER, message instanceof String text && text.length() > SMALL_HEADER_BYTES
                ? text.substring(0, SMALL_HEADER_BYTES) : message);
        TopicPartition tp = exchange.getProperty(KafkaInFlight.PARTITION, TopicPartition.class);
        if (tp != null) {
            out.setHeader(ORIGINAL_TOPIC_HEADER, tp.topic());
            out.setHeader(ORIGINAL_PARTITION_HEADER, String.valueOf(tp.partition()));
        }
        Long offset = exchange.getProperty(KafkaInFlight.OFFSET, Long.class);
        if (offset != null) {
            out.setHeader(ORIGINAL_OFFSET_HEADER, String.valueOf(offset));
        }
        out.setHeader(ORIGINAL_BYTES_HEADER,
                String.valueOf(original == null || original.bytes() == null ? 0 : original.bytes().length));
        out.setBody(new byte[0]);
    }

    /** The original record's short headers (a long one may be what made the record too large). */
    private static Map<String, byte[]> smallHeaders(Exchange exchange) {
        OriginalRecord original = exchange.getProperty(ORIGINAL, OriginalRecord.class);
        Map<String, byte[]> small = new LinkedHashMap<>();
        if (original != null) {
            original.headers().forEach((name, value) -> {
                if (name.length() + value.length <= SMALL_HEADER_BYTES) {
                    small.put(name, value);
                }
            });
        }
        return small;
    }

    private static String where(Exchange exchange) {
        return "record " + exchange.getProperty(KafkaInFlight.PARTITION) + " offset "
                + exchange.getProperty(KafkaInFlight.OFFSET);
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

    /** The record a task came in: its key, bytes and own headers. */
    public record OriginalRecord(String key, byte[] bytes, Map<String, byte[]> headers) {}

    /** The record the exchange's task came in (null for a task from another intake). */
    public static OriginalRecord original(Exchange exchange) {
        return exchange.getProperty(ORIGINAL, OriginalRecord.class);
    }

    /**
     * Puts a task's original record back on an exchange that carries it again later (a task answered by a provider
     * batch, or rescued online), so its result and dead letter leave as if it had just been read.
     */
    public static void restore(Exchange exchange, OriginalRecord original) {
        exchange.setProperty(ORIGINAL, original);
        exchange.removeProperty(INVALID);
    }
}
