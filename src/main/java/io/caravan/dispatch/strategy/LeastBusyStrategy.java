package io.caravan.dispatch.strategy;

import io.caravan.catalog.DeploymentSpec;
import java.util.Comparator;
import java.util.List;

/**
 * {@code least-busy}: the deployment with the fewest calls in flight on this instance first; deployments equally
 * busy share round-robin.
 */
public final class LeastBusyStrategy implements GroupStrategy {

    private final DeploymentStats stats;
    private final Rotation rotation = new Rotation();

    public LeastBusyStrategy(DeploymentStats stats) {
        this.stats = stats;
    }

    @Override
    public String name() {
        return "least-busy";
    }

    @Override
    public List<DeploymentSpec> order(String group, List<DeploymentSpec> deployments) {
        return rotation.rotateThenSort(group, deployments, Comparator.comparingInt(d -> stats.inFlight(d.id())));
    }
}
