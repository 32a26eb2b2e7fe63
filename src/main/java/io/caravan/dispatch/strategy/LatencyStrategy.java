package io.caravan.dispatch.strategy;

import io.caravan.catalog.DeploymentSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * {@code latency}: the deployment with the lowest recent latency (a moving average of answered calls, timeouts
 * included) first. Deployments within {@link #BUFFER} of the fastest count as equally fast and share
 * round-robin, so near-equal deployments all keep traffic (and keep their figures fresh). A deployment not yet
 * measured counts as fastest, so it gets measured.
 */
public final class LatencyStrategy implements GroupStrategy {

    /** Within 20% of the fastest counts as equal. */
    static final double BUFFER = 0.20;

    private final DeploymentStats stats;
    private final Rotation rotation = new Rotation();

    public LatencyStrategy(DeploymentStats stats) {
        this.stats = stats;
    }

    @Override
    public String name() {
        return "latency";
    }

    @Override
    public List<DeploymentSpec> order(String group, List<DeploymentSpec> deployments) {
        if (deployments.size() <= 1) {
            return deployments;
        }
        double best = deployments.stream().mapToDouble(this::latency).min().orElse(0);
        double limit = best * (1 + BUFFER);
        List<DeploymentSpec> fast = new ArrayList<>();
        List<DeploymentSpec> rest = new ArrayList<>();
        for (DeploymentSpec d : deployments) {
            (latency(d) <= limit ? fast : rest).add(d);
        }
        List<DeploymentSpec> out = new ArrayList<>(rotation.rotate(group, fast));
        rest.sort(Comparator.comparingDouble(this::latency));
        out.addAll(rest);
        return out;
    }

    private double latency(DeploymentSpec d) {
        Double ms = stats.latencyMs(d.id());
        return ms == null ? 0 : ms;
    }
}
