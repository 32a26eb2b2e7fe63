package io.caravan.task;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;

/**
 * A validated task (contract section 3). {@code model} is {@code auto}, a group name or {@code tier:NAME};
 * {@code scores} are the agent-level complexity scores (may be empty); {@code timeoutMs} null means the
 * configured default.
 */
public record Task(
        String id,
        ArrayNode messages,
        String model,
        String tier,
        ObjectNode params,
        ObjectNode metadata,
        Map<String, Double> scores,
        Long timeoutMs) {

    public static final String AUTO = "auto";
    public static final String TIER_PREFIX = "tier:";

    public String tenant() {
        return metadata.hasNonNull("tenant") ? metadata.get("tenant").asText() : null;
    }
}
