package io.caravan.accounting;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.util.Json;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;

/**
 * One record of the usage topic (contract section 5), read back for budgets and reports. Only what accounting
 * needs; unknown or missing fields are tolerated so an old or foreign record never stops a rebuild.
 */
public record UsageEvent(
        String taskId,
        int attempt,
        Instant ts,
        String tier,
        String model,
        String deployment,
        String provider,
        String outcome,
        long latencyMs,
        long inputTokens,
        long cachedInputTokens,
        long outputTokens,
        double costUsd,
        boolean fallback,
        String tenant) {

    /** Parses a usage record; null when the bytes are not a usage event. */
    public static UsageEvent parse(byte[] bytes, long recordTimestamp) {
        if (bytes == null) {
            return null;
        }
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(bytes);
        } catch (IOException e) {
            return null;
        }
        if (n == null || !n.isObject()) {
            return null;
        }
        Instant ts;
        try {
            ts = n.hasNonNull("ts") ? Instant.parse(n.get("ts").asText()) : Instant.ofEpochMilli(recordTimestamp);
        } catch (DateTimeParseException e) {
            ts = Instant.ofEpochMilli(recordTimestamp);
        }
        JsonNode meta = n.path("metadata");
        return new UsageEvent(
                text(n, "task_id"),
                n.path("attempt").asInt(0),
                ts,
                text(n, "tier"),
                text(n, "model"),
                text(n, "deployment"),
                text(n, "provider"),
                text(n, "outcome"),
                n.path("latency_ms").asLong(0),
                n.path("input_tokens").asLong(0),
                n.path("cached_input_tokens").asLong(0),
                n.path("output_tokens").asLong(0),
                n.path("cost_usd").asDouble(0),
                n.path("fallback").asBoolean(false),
                meta.hasNonNull("tenant") ? meta.get("tenant").asText() : null);
    }

    private static String text(JsonNode n, String field) {
        return n.hasNonNull(field) ? n.get(field).asText() : null;
    }
}
