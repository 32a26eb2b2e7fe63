package io.caravan.outlet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.Message;
import org.apache.camel.component.kafka.KafkaConstants;
import org.apache.camel.support.DefaultMessage;

/**
 * Prepares a finished task's usage events (one per attempt) as one batch for the Kafka producer. An event stays
 * small whatever the task holds: it carries a bounded part of the task's metadata ({@link #boundedMetadata}), so
 * it always fits on the usage topic and spend is always recorded.
 */
public final class UsageRecords {

    /** The tenant is kept up to this many characters (it decides whose budget pays). */
    static final int MAX_TENANT_CHARS = 1024;
    /** Besides the tenant, this many short scalar fields of the metadata are kept, in their order. */
    static final int MAX_OTHER_FIELDS = 16;
    static final int MAX_FIELD_NAME_CHARS = 64;
    static final int MAX_TEXT_CHARS = 256;

    private final boolean publish;
    private final String instance;

    /**
     * {@code publish=false}: no usage topic (a batch run without Kafka); events are not emitted. {@code instance}
     * names this Caravan in every event, so the fleet's other instances can tell its attempts from their own.
     */
    public UsageRecords(boolean publish, String instance) {
        this.publish = publish;
        this.instance = instance;
    }

    public void prepare(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        // one message per event, so each record carries the task id as its key
        List<Message> records = new ArrayList<>();
        for (byte[] event : ResultJson.usageEvents(ctx, instance)) {
            Message record = new DefaultMessage(exchange.getContext());
            record.setHeader(KafkaConstants.KEY, ctx.task().id());
            record.setBody(event);
            records.add(record);
        }
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        out.setBody(records);
    }

    /**
     * The part of a task's metadata a usage event (or a result cut down to fit) carries: {@code tenant} (its
     * first {@value #MAX_TENANT_CHARS} characters), then up to {@value #MAX_OTHER_FIELDS} other fields whose
     * names have at most {@value #MAX_FIELD_NAME_CHARS} characters and whose values are numbers, booleans or
     * texts of at most {@value #MAX_TEXT_CHARS} characters. Nested objects, arrays and long texts are left out.
     * At most about 6 KB, whatever the task holds.
     */
    public static ObjectNode boundedMetadata(ObjectNode metadata) {
        ObjectNode bounded = Json.object();
        if (metadata == null) {
            return bounded;
        }
        JsonNode tenant = metadata.get("tenant");
        if (tenant != null && tenant.isTextual()) {
            String name = tenant.asText();
            bounded.set("tenant", name.length() <= MAX_TENANT_CHARS ? tenant
                    : TextNode.valueOf(name.substring(0, MAX_TENANT_CHARS)));
        } else if (tenant != null && (tenant.isNumber() || tenant.isBoolean())) {
            bounded.set("tenant", tenant);
        }
        int others = 0;
        for (Map.Entry<String, JsonNode> field : metadata.properties()) {
            if (others >= MAX_OTHER_FIELDS) {
                break;
            }
            JsonNode value = field.getValue();
            if (field.getKey().equals("tenant") || field.getKey().length() > MAX_FIELD_NAME_CHARS) {
                continue;
            }
            if (value.isNumber() || value.isBoolean() || (value.isTextual() && value.asText().length() <= MAX_TEXT_CHARS)) {
                bounded.set(field.getKey(), value);
                others++;
            }
        }
        return bounded;
    }

    /** Whether the task has usage events to send now; a streamed answer sends its own once the stream ended. */
    public boolean any(TaskContext ctx) {
        return publish && ctx != null && !ctx.attempts().isEmpty() && ctx.stream() == null;
    }
}
