package io.caravan.dispatch;

import io.caravan.catalog.DeploymentSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Orders a group's deployments for one task: the first by weighted round-robin (so traffic shares by weight),
 * then the others in catalog order as failover.
 */
public final class WeightedRoundRobin {

    private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();

    public List<DeploymentSpec> order(String group, List<DeploymentSpec> deployments) {
        if (deployments.size() <= 1) {
            return deployments;
        }
        int total = deployments.stream().mapToInt(d -> Math.max(0, d.weight())).sum();
        if (total <= 0) {
            return deployments;
        }
        long tick = counters.computeIfAbsent(group, g -> new AtomicLong()).getAndIncrement();
        long slot = Math.floorMod(tick, total);
        int first = 0;
        for (int i = 0; i < deployments.size(); i++) {
            slot -= Math.max(0, deployments.get(i).weight());
            if (slot < 0) {
                first = i;
                break;
            }
        }
        List<DeploymentSpec> ordered = new ArrayList<>(deployments.size());
        for (int i = 0; i < deployments.size(); i++) {
            ordered.add(deployments.get((first + i) % deployments.size()));
        }
        return ordered;
    }
}
