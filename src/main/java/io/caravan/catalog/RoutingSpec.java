package io.caravan.catalog;

import java.util.List;
import java.util.Map;

/** The {@code routing:} block: keyword rules (tier to words, in file order) and the score weights. */
public record RoutingSpec(Map<String, List<String>> keywords, double agentWeight, double taskWeight) {

    public static final RoutingSpec DEFAULT = new RoutingSpec(Map.of(), 0.6, 0.4);
}
