package io.caravan.dispatch.strategy;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import java.util.Comparator;
import java.util.List;

/**
 * {@code cost}: the cheapest deployment first, by input plus output price per million tokens; the dearer ones
 * follow as failover. Equally priced deployments share round-robin.
 */
public final class CostStrategy implements GroupStrategy {

    private final Rotation rotation = new Rotation();

    @Override
    public String name() {
        return "cost";
    }

    @Override
    public List<DeploymentSpec> order(String group, List<DeploymentSpec> deployments) {
        return rotation.rotateThenSort(group, deployments, Comparator.comparingDouble(CostStrategy::price));
    }

    static double price(DeploymentSpec d) {
        Price p = d.price() == null ? Price.FREE : d.price();
        return p.input() + p.output();
    }
}
