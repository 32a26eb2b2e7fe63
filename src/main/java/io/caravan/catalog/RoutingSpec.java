package io.caravan.catalog;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code routing:} block: keyword rules (tier to words, in file order), the score weights, and the task
 * {@code params} passed on verbatim beyond the contract's list ({@code params_passthrough}, empty by default).
 */
public record RoutingSpec(Map<String, List<String>> keywords, double agentWeight, double taskWeight,
        Set<String> paramsPassthrough) {

    public static final RoutingSpec DEFAULT = new RoutingSpec(Map.of(), 0.6, 0.4, Set.of());

    public RoutingSpec(Map<String, List<String>> keywords, double agentWeight, double taskWeight) {
        this(keywords, agentWeight, taskWeight, Set.of());
    }
}
