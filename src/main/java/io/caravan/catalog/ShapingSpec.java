package io.caravan.catalog;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The traffic-shaping blocks of the catalog: a routing strategy per group ({@code groups:}), the response cache
 * ({@code cache:}, off when absent) and progressive escalation ({@code escalation:}, off when absent).
 */
public record ShapingSpec(Map<String, String> strategies, Cache cache, Escalation escalation) {

    public static final String DEFAULT_STRATEGY = "weighted";
    public static final List<String> STRATEGIES = List.of("weighted", "least-busy", "latency", "cost");
    public static final ShapingSpec NONE = new ShapingSpec(Map.of(), null, null);

    /** The group's strategy, {@code weighted} unless the catalog says otherwise. */
    public String strategy(String group) {
        return strategies.getOrDefault(group, DEFAULT_STRATEGY);
    }

    /** {@code cache: {ttl: 10m, max_entries: 10000}}. */
    public record Cache(Duration ttl, long maxEntries) {
        public static final Duration DEFAULT_TTL = Duration.ofMinutes(10);
        public static final long DEFAULT_MAX_ENTRIES = 10_000;
    }

    /**
     * {@code escalation: {tiers: [fast, balanced, powerful], gates: {...}}}: tiers tried cheapest first, and the
     * quality gates an answer must pass to stop there. Null gate fields are not checked.
     */
    public record Escalation(List<String> tiers, Gates gates) {}

    /**
     * {@code finish_reason}: the finish reason an answer must have (e.g. {@code stop}); {@code minChars}: the
     * shortest acceptable output; {@code json}: output must parse as JSON when the task's
     * {@code response_format} asks for JSON (or always, with {@code json: always}); {@code regex}: the output
     * must contain a match.
     */
    public record Gates(String finishReason, Integer minChars, String json, Pattern regex) {}
}
