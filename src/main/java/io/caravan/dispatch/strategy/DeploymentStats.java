package io.caravan.dispatch.strategy;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the group strategies see of each deployment on this instance: calls in flight (least-busy) and an
 * exponentially weighted moving average of recent latencies (latency). Keyed by deployment id, so the figures of
 * unchanged deployments survive a catalog reload.
 */
public final class DeploymentStats {

    /** Weight of the newest latency in the moving average. */
    static final double ALPHA = 0.3;

    private final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    private final Map<String, Double> latency = new ConcurrentHashMap<>();

    public void begin(String deploymentId) {
        inFlight.computeIfAbsent(deploymentId, id -> new AtomicInteger()).incrementAndGet();
    }

    /** Ends a call begun with {@link #begin}; {@code latencyMs} < 0 when the call gave no usable latency. */
    public void end(String deploymentId, long latencyMs) {
        AtomicInteger n = inFlight.get(deploymentId);
        if (n != null) {
            n.updateAndGet(v -> Math.max(0, v - 1));
        }
        if (latencyMs >= 0) {
            latency.merge(deploymentId, (double) latencyMs, (old, now) -> old + ALPHA * (now - old));
        }
    }

    public int inFlight(String deploymentId) {
        AtomicInteger n = inFlight.get(deploymentId);
        return n == null ? 0 : n.get();
    }

    /** The moving average of latency in ms, or null before the first answered call. */
    public Double latencyMs(String deploymentId) {
        return latency.get(deploymentId);
    }
}
