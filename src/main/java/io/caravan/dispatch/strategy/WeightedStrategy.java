package io.caravan.dispatch.strategy;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.dispatch.WeightedRoundRobin;
import java.util.List;

/** {@code weighted} (the default): round-robin by weight, then the others in catalog order. */
public final class WeightedStrategy implements GroupStrategy {

    private final WeightedRoundRobin roundRobin = new WeightedRoundRobin();

    @Override
    public String name() {
        return "weighted";
    }

    @Override
    public List<DeploymentSpec> order(String group, List<DeploymentSpec> deployments) {
        return roundRobin.order(group, deployments);
    }
}
