package io.caravan.dispatch.strategy;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import java.util.List;
import java.util.Map;

/** The strategies by catalog name; one instance each per Caravan, so their counters outlive catalog reloads. */
public final class GroupStrategies {

    private final Map<String, GroupStrategy> byName;

    public GroupStrategies(DeploymentStats stats) {
        this.byName = Map.of(
                "weighted", new WeightedStrategy(),
                "least-busy", new LeastBusyStrategy(stats),
                "latency", new LatencyStrategy(stats),
                "cost", new CostStrategy());
    }

    public GroupStrategy get(String name) {
        return byName.getOrDefault(name, byName.get("weighted"));
    }

    /** The group's deployments in the order its strategy (in this catalog) picks them. */
    public List<DeploymentSpec> order(Catalog catalog, String group) {
        return get(catalog.shaping().strategy(group)).order(group, catalog.group(group));
    }
}
