package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/** Reads and validates the catalog's {@code routing} block: keywords, score weights, parameters passed through. */
final class RoutingReader extends BlockReader {

    RoutingReader(String file, Consumer<String> warnings) {
        super(file, warnings);
    }

    RoutingSpec read(JsonNode block, Map<String, TierSpec> tiers) {
        if (absent(block)) {
            return RoutingSpec.DEFAULT;
        }
        requireMapping(block, "routing");
        Map<String, List<String>> keywords = new LinkedHashMap<>();
        JsonNode kw = block.get("keywords");
        if (!absent(kw)) {
            requireMapping(kw, "routing.keywords");
            kw.fields().forEachRemaining(e -> {
                if (!tiers.containsKey(e.getKey())) {
                    throw fail("routing.keywords", "unknown tier '" + e.getKey() + "'");
                }
                keywords.put(e.getKey(), strings(e.getValue(), "routing.keywords." + e.getKey()));
            });
        }
        double agent = RoutingSpec.DEFAULT.agentWeight();
        double task = RoutingSpec.DEFAULT.taskWeight();
        JsonNode sw = block.get("score_weights");
        if (!absent(sw)) {
            requireMapping(sw, "routing.score_weights");
            Double a = number(sw, "agent", "routing.score_weights");
            Double t = number(sw, "task", "routing.score_weights");
            agent = a == null ? agent : a;
            task = t == null ? task : t;
            if (agent + task == 0) {
                throw fail("routing.score_weights", "agent and task cannot both be 0");
            }
        }
        return new RoutingSpec(Collections.unmodifiableMap(keywords), agent, task,
                paramsPassthrough(block.get("params_passthrough")));
    }

    /** Task params passed on verbatim beyond the contract's list: names only, never the request's own fields. */
    private Set<String> paramsPassthrough(JsonNode node) {
        Set<String> names = new java.util.TreeSet<>();
        for (String name : strings(node, "routing.params_passthrough")) {
            if (!name.matches("[A-Za-z_][A-Za-z0-9_]{0,63}")) {
                throw fail("routing.params_passthrough", "'" + name + "' is not a parameter name");
            }
            if (Set.of("model", "messages", "stream", "stream_options").contains(name)) {
                throw fail("routing.params_passthrough", "'" + name + "' is set by Caravan, not passed through");
            }
            names.add(name);
        }
        return Set.copyOf(names);
    }
}
