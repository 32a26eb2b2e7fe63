package io.caravan.accounting;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.provider.Headroom;
import io.caravan.task.Outcome;
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
        String tenant,
        String instance,
        String keyId,
        Long retryAfterMs,
        Headroom headroom,
        String mode) {

    /** An event from before modes (every attempt then was online). */
    public UsageEvent(String taskId, int attempt, Instant ts, String tier, String model, String deployment,
            String provider, String outcome, long latencyMs, long inputTokens, long cachedInputTokens,
            long outputTokens, double costUsd, boolean fallback, String tenant, String instance, String keyId,
            Long retryAfterMs, Headroom headroom) {
        this(taskId, attempt, ts, tier, model, deployment, provider, outcome, latencyMs, inputTokens,
                cachedInputTokens, outputTokens, costUsd, fallback, tenant, instance, keyId, retryAfterMs, headroom,
                "online");
    }

    /** The attempt's outcome as the type; null for an outcome this version does not know. */
    public Outcome outcomeType() {
        return Outcome.fromWireName(outcome);
    }

    /** Events above these are not of this world: one attempt never bills this much or reads this many tokens. */
    static final double MAX_COST_USD = 10_000;
    static final long MAX_TOKENS = 1_000_000_000L;

    /** Why a record cannot be a usage event (the label of {@code caravan_usage_events_rejected_total}). */
    public enum Rejection {
        NOT_JSON, NON_NUMERIC, NOT_FINITE, NEGATIVE, ABSURD, TENANT_TOO_LONG;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** A record that is not a possible usage event. */
    public static final class Rejected extends RuntimeException {
        private static final long serialVersionUID = 1L;

        private final Rejection reason;

        Rejected(Rejection reason, String message) {
            super(message, null, false, false);
            this.reason = reason;
        }

        public Rejection reason() {
            return reason;
        }
    }

    /** The default bound of a tenant name (setting {@code caravan.tenant.max-chars}). */
    public static final int MAX_TENANT_CHARS = io.caravan.Setting.TENANT_MAX_CHARS.read(null);

    /** Parses a usage record; null when the bytes are not a possible usage event (reports skip those). */
    public static UsageEvent parse(byte[] bytes, long recordTimestamp) {
        try {
            return read(bytes, recordTimestamp, MAX_TENANT_CHARS);
        } catch (Rejected e) {
            return null;
        }
    }

    /**
     * Parses a usage record strictly: money and token fields, when present, are finite, non-negative, plausible
     * numbers (a forged {@code "NaN"} cost would otherwise disable a budget), and the tenant is at most
     * {@code maxTenantChars} long. Missing fields count as 0 (old or foreign records).
     *
     * @throws Rejected when the record cannot be a usage event
     */
    public static UsageEvent read(byte[] bytes, long recordTimestamp, int maxTenantChars) {
        if (bytes == null) {
            throw new Rejected(Rejection.NOT_JSON, "no value");
        }
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(bytes);
        } catch (IOException e) {
            throw new Rejected(Rejection.NOT_JSON, "not JSON");
        }
        if (n == null || !n.isObject()) {
            throw new Rejected(Rejection.NOT_JSON, "not a JSON object");
        }
        Instant ts;
        try {
            ts = n.hasNonNull("ts") ? Instant.parse(n.get("ts").asText()) : Instant.ofEpochMilli(recordTimestamp);
        } catch (DateTimeParseException e) {
            ts = Instant.ofEpochMilli(recordTimestamp);
        }
        JsonNode meta = n.path("metadata");
        String tenant = meta.hasNonNull("tenant") ? meta.get("tenant").asText() : null;
        if (tenant != null && tenant.length() > maxTenantChars) {
            throw new Rejected(Rejection.TENANT_TOO_LONG, "tenant of " + tenant.length() + " characters");
        }
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
                (long) amount(n, "input_tokens", MAX_TOKENS),
                (long) amount(n, "cached_input_tokens", MAX_TOKENS),
                (long) amount(n, "output_tokens", MAX_TOKENS),
                amount(n, "cost_usd", MAX_COST_USD),
                n.path("fallback").asBoolean(false),
                tenant,
                instance(n),
                keyId(n),
                wait(n.get("retry_after_ms")),
                headroom(n.get("headroom")),
                "batch".equals(text(n, "mode")) ? "batch" : "online");
    }

    /** Longest instance id read; a longer one is not a Caravan's and is dropped (the event still counts). */
    static final int MAX_INSTANCE_CHARS = 128;
    /** Longest wait or reset read (a day): beyond it a value is not a rate limit's. */
    static final long MAX_WAIT_MS = 86_400_000L;
    private static final java.util.regex.Pattern KEY_ID = java.util.regex.Pattern.compile("[0-9a-f]{12}");

    private static String instance(JsonNode n) {
        JsonNode v = n.get("instance");
        return v != null && v.isTextual() && v.asText().length() <= MAX_INSTANCE_CHARS ? v.asText() : null;
    }

    private static String keyId(JsonNode n) {
        JsonNode v = n.get("key_id");
        return v != null && v.isTextual() && KEY_ID.matcher(v.asText()).matches() ? v.asText() : null;
    }

    /** The fleet fields are advisory: an unreadable one is left out, never a reason to drop the spend. */
    private static Long wait(JsonNode v) {
        return count(v, MAX_WAIT_MS);
    }

    private static Long count(JsonNode v, long max) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToLong()) {
            return null;
        }
        long l = v.asLong();
        return l < 0 || l > max ? null : l;
    }

    private static Headroom headroom(JsonNode v) {
        if (v == null || !v.isObject()) {
            return null;
        }
        Headroom h = new Headroom(count(v.get("requests"), MAX_TOKENS), count(v.get("tokens"), MAX_TOKENS),
                wait(v.get("reset_ms")));
        return h.requests() == null && h.tokens() == null && h.resetMs() == null ? null : h;
    }

    /** A non-negative finite number up to {@code max}; 0 when absent or null. */
    private static double amount(JsonNode n, String field, double max) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return 0;
        }
        if (!v.isNumber()) {
            throw new Rejected(Rejection.NON_NUMERIC, field + " is not a number");
        }
        double d = v.asDouble();
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            throw new Rejected(Rejection.NOT_FINITE, field + " is not finite");
        }
        if (d < 0) {
            throw new Rejected(Rejection.NEGATIVE, field + " is negative");
        }
        if (d > max) {
            throw new Rejected(Rejection.ABSURD, field + " is over " + max);
        }
        return d;
    }

    private static String text(JsonNode n, String field) {
        return n.hasNonNull(field) ? n.get(field).asText() : null;
    }
}
