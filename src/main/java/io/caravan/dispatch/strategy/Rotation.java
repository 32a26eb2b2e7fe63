package io.caravan.dispatch.strategy;

import io.caravan.catalog.DeploymentSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** Shares traffic between deployments a strategy counts as equal: a plain round-robin per group. */
final class Rotation {

    private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();

    List<DeploymentSpec> rotate(String group, List<DeploymentSpec> equal) {
        if (equal.size() <= 1) {
            return equal;
        }
        int start = (int) Math.floorMod(counters.computeIfAbsent(group, g -> new AtomicLong()).getAndIncrement(),
                (long) equal.size());
        List<DeploymentSpec> out = new ArrayList<>(equal.size());
        for (int i = 0; i < equal.size(); i++) {
            out.add(equal.get((start + i) % equal.size()));
        }
        return out;
    }

    /** The deployments rotated, then sorted by {@code key}: the sort is stable, so equal keys keep the rotation. */
    List<DeploymentSpec> rotateThenSort(String group, List<DeploymentSpec> deployments,
            Comparator<DeploymentSpec> key) {
        List<DeploymentSpec> out = new ArrayList<>(rotate(group, deployments));
        out.sort(key);
        return out;
    }
}
