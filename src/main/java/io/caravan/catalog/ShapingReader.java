package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.util.Durations;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** Reads and validates the catalog's traffic-shaping blocks ({@code groups}, {@code cache}, {@code escalation}). */
final class ShapingReader extends BlockReader {

    private static final Set<String> GROUP_FIELDS = Set.of("strategy");
    private static final Set<String> CACHE_FIELDS = Set.of("ttl", "max_entries");
    private static final Set<String> ESCALATION_FIELDS = Set.of("tiers", "gates");
    private static final Set<String> GATE_FIELDS = Set.of("finish_reason", "min_chars", "json", "regex");

    ShapingReader(String file) {
        super(file, warning -> { });
    }

    ShapingSpec read(JsonNode root, Map<String, List<DeploymentSpec>> groups, Map<String, TierSpec> tiers) {
        return new ShapingSpec(strategies(root.get("groups"), groups), cache(root.get("cache")),
                escalation(root.get("escalation"), tiers));
    }

    private Map<String, String> strategies(JsonNode block, Map<String, List<DeploymentSpec>> groups) {
        Map<String, String> out = new LinkedHashMap<>();
        if (absent(block)) {
            return Map.of();
        }
        requireMapping(block, "groups");
        block.fields().forEachRemaining(e -> {
            String entry = "groups." + e.getKey();
            if (!groups.containsKey(e.getKey())) {
                throw fail(entry, "unknown group '" + e.getKey() + "'");
            }
            JsonNode node = e.getValue();
            requireMapping(node, entry);
            onlyFields(node, entry, GROUP_FIELDS);
            JsonNode s = node.get("strategy");
            if (absent(s)) {
                return;
            }
            String strategy = s.asText().trim();
            if (!ShapingSpec.STRATEGIES.contains(strategy)) {
                throw fail(entry, "unknown strategy '" + strategy + "' (expected one of "
                        + String.join(", ", ShapingSpec.STRATEGIES) + ")");
            }
            out.put(e.getKey(), strategy);
        });
        return Collections.unmodifiableMap(out);
    }

    private ShapingSpec.Cache cache(JsonNode block) {
        if (absent(block)) {
            return null;
        }
        requireMapping(block, "cache");
        onlyFields(block, "cache", CACHE_FIELDS);
        Duration ttl = ShapingSpec.Cache.DEFAULT_TTL;
        JsonNode t = block.get("ttl");
        if (!absent(t)) {
            try {
                ttl = Durations.parse(t.asText().trim());
            } catch (IllegalArgumentException e) {
                throw fail("cache", "ttl: " + e.getMessage());
            }
            if (ttl.isZero() || ttl.isNegative()) {
                throw fail("cache", "ttl must be greater than 0");
            }
        }
        long max = ShapingSpec.Cache.DEFAULT_MAX_ENTRIES;
        JsonNode m = block.get("max_entries");
        if (!absent(m)) {
            if (!m.canConvertToLong() && !m.asText().trim().matches("\\d+")) {
                throw fail("cache", "max_entries: must be a whole number, got '" + m.asText() + "'");
            }
            max = m.isNumber() ? m.asLong() : Long.parseLong(m.asText().trim());
            if (max <= 0 || (m.isNumber() && !m.isIntegralNumber())) {
                throw fail("cache", "max_entries: must be a whole number greater than 0, got " + m.asText());
            }
        }
        return new ShapingSpec.Cache(ttl, max);
    }

    private ShapingSpec.Escalation escalation(JsonNode block, Map<String, TierSpec> tiers) {
        if (absent(block)) {
            return null;
        }
        requireMapping(block, "escalation");
        onlyFields(block, "escalation", ESCALATION_FIELDS);
        List<String> names = new ArrayList<>();
        JsonNode t = block.get("tiers");
        if (absent(t)) {
            names.addAll(tiers.keySet());
        } else {
            if (!t.isArray()) {
                throw fail("escalation.tiers", "must be a list of tier names");
            }
            for (JsonNode n : t) {
                String name = n.asText().trim();
                if (!tiers.containsKey(name)) {
                    throw fail("escalation.tiers", "unknown tier '" + name + "'");
                }
                if (names.contains(name)) {
                    throw fail("escalation.tiers", "tier '" + name + "' listed twice");
                }
                names.add(name);
            }
        }
        if (names.size() < 2) {
            throw fail("escalation.tiers", "needs at least two tiers to escalate between");
        }
        JsonNode g = block.get("gates");
        if (absent(g)) {
            throw fail("escalation.gates", "missing (finish_reason, min_chars, json or regex)");
        }
        requireMapping(g, "escalation.gates");
        onlyFields(g, "escalation.gates", GATE_FIELDS);
        String finish = absent(g.get("finish_reason")) ? null : g.get("finish_reason").asText().trim();
        Integer minChars = null;
        JsonNode mc = g.get("min_chars");
        if (!absent(mc)) {
            if (!mc.isIntegralNumber() || mc.asInt() < 0) {
                throw fail("escalation.gates", "min_chars: must be a whole number, got '" + mc.asText() + "'");
            }
            minChars = mc.asInt();
        }
        String json = null;
        JsonNode j = g.get("json");
        if (!absent(j)) {
            String v = j.asText().trim();
            if (v.equals("true")) {
                json = "requested";
            } else if (v.equals("always")) {
                json = "always";
            } else if (!v.equals("false")) {
                throw fail("escalation.gates", "json: must be true, false or always, got '" + v + "'");
            }
        }
        Pattern regex = null;
        JsonNode r = g.get("regex");
        if (!absent(r)) {
            try {
                regex = Pattern.compile(r.asText());
            } catch (PatternSyntaxException e) {
                throw fail("escalation.gates", "regex: not a valid regular expression (" + e.getDescription() + ")");
            }
        }
        if (finish == null && minChars == null && json == null && regex == null) {
            throw fail("escalation.gates", "no gate set (finish_reason, min_chars, json or regex)");
        }
        return new ShapingSpec.Escalation(List.copyOf(names), new ShapingSpec.Gates(finish, minChars, json, regex));
    }
}
