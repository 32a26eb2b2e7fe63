package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** Reads and validates the catalog's {@code tiers} and {@code default_tier}. */
final class TiersReader extends BlockReader {

    TiersReader(String file, Consumer<String> warnings) {
        super(file, warnings);
    }

    Map<String, TierSpec> read(JsonNode block, Map<String, List<DeploymentSpec>> groups) {
        Map<String, TierSpec> tiers = new LinkedHashMap<>();
        if (absent(block)) {
            return tiers;
        }
        requireMapping(block, "tiers");
        Double[] previous = {null};
        String[] previousName = {null};
        block.fields().forEachRemaining(e -> {
            String name = e.getKey();
            String entry = "tiers." + name;
            JsonNode node = e.getValue();
            String group;
            Double maxScore = null;
            if (node != null && node.isTextual()) {
                group = node.asText();  // shorthand: `fast: qwen-max`
            } else {
                if (absent(node)) {
                    throw fail(entry, "tier without group (no 'model')");
                }
                requireMapping(node, entry);
                group = text(node, "model", entry);
                maxScore = number(node, "max_score", entry);
            }
            if (group == null || group.isBlank()) {
                throw fail(entry, "tier without group (no 'model')");
            }
            group = group.trim();
            if (!groups.containsKey(group)) {
                throw fail(entry, "unknown group '" + group + "'");
            }
            if (maxScore != null) {
                if (previous[0] != null && maxScore <= previous[0]) {
                    throw fail(entry, "max_score " + maxScore + " must be above the cheaper tier "
                            + previousName[0] + "'s " + previous[0] + " (tiers go cheapest first)");
                }
                previous[0] = maxScore;
                previousName[0] = name;
            }
            tiers.put(name, new TierSpec(name, group, maxScore));
        });
        return tiers;
    }

    String defaultTier(JsonNode node, Map<String, TierSpec> tiers) {
        if (absent(node) || node.asText().isBlank()) {
            if (tiers.isEmpty()) {
                return null;
            }
            return tiers.containsKey("balanced") ? "balanced" : tiers.keySet().iterator().next();
        }
        if (!node.isValueNode()) {
            throw fail("default_tier", "must be a tier name");
        }
        String name = node.asText().trim();
        if (!tiers.containsKey(name)) {
            throw fail("default_tier", "unknown tier '" + name + "'");
        }
        return name;
    }
}
