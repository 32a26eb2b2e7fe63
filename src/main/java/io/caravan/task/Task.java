package io.caravan.task;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;

/**
 * A validated task (contract section 3). {@code model} is {@code auto}, a group name or {@code tier:NAME};
 * {@code scores} are the agent-level complexity scores (may be empty); {@code timeoutMs} null means the
 * configured default; {@code cache} is null, {@code force} or {@code off} (the response cache directive).
 */
public record Task(
        String id,
        ArrayNode messages,
        String model,
        String tier,
        ObjectNode params,
        ObjectNode metadata,
        Map<String, Double> scores,
        Long timeoutMs,
        String cache,
        java.time.Instant deadline) {

    public static final String AUTO = "auto";
    /** {@code "cache": "force"}: answer from (and fill) the response cache even when not deterministic. */
    public static final String CACHE_FORCE = "force";
    /** {@code "cache": "off"}: never answer from the response cache. */
    public static final String CACHE_OFF = "off";

    /** A task without a deadline ({@code deadline}/{@code max_delay}): answered online, as soon as it can be. */
    public Task(String id, ArrayNode messages, String model, String tier, ObjectNode params, ObjectNode metadata,
            Map<String, Double> scores, Long timeoutMs, String cache) {
        this(id, messages, model, tier, params, metadata, scores, timeoutMs, cache, null);
    }

    /** A task without a cache directive. */
    public Task(String id, ArrayNode messages, String model, String tier, ObjectNode params, ObjectNode metadata,
            Map<String, Double> scores, Long timeoutMs) {
        this(id, messages, model, tier, params, metadata, scores, timeoutMs, null);
    }
    public static final String TIER_PREFIX = "tier:";

    public String tenant() {
        return metadata.hasNonNull("tenant") ? metadata.get("tenant").asText() : null;
    }
}
