package io.caravan.dispatch.strategy;

import io.caravan.catalog.DeploymentSpec;
import java.util.List;

/**
 * How a group's deployments are ordered for one task (catalog {@code groups: {name: {strategy: ...}}}): the first
 * is the one called, the others follow as failover.
 */
public interface GroupStrategy {

    /** The catalog name of the strategy ({@code weighted}, {@code least-busy}, {@code latency}, {@code cost}). */
    String name();

    List<DeploymentSpec> order(String group, List<DeploymentSpec> deployments);
}
