package io.caravan.dispatch;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.TenantSpec;
import io.caravan.task.TaskContext;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Fair shares of a rate-limited provider's capacity between tenants: when tasks of several tenants wait for the
 * same provider, each tenant gets turns in proportion to its {@code weight}, whatever the number of tasks it has
 * waiting (start-time fair queueing): every turn taken adds {@code 1/weight} to the tenant's virtual time on that
 * provider, and a task goes first only while no other tenant with tasks waiting is behind it in virtual time. A
 * tenant that was not waiting starts level with the ones that are (it earns no credit while away). Tasks "wait"
 * while they sleep for the provider's capacity or for their turn ({@link #sleeping}, from the fallback planner,
 * whose waits are bounded by the task's deadline and count); a task whose turn it is not ({@link #mayGo}) sleeps
 * until the provider's next window like one that found no capacity, holding no thread.
 * Tasks without a tenant of the catalog share one lane, so the state is bounded by providers × tenants.
 */
public final class FairShare {

    private static final String NO_TENANT = "";

    private final Map<String, Lane> lanes = new ConcurrentHashMap<>();
    /** Tasks asleep until their provider has capacity again, with the lane and tenant they wait in. */
    private final Map<TaskContext, Waiting> sleeping = new ConcurrentHashMap<>();

    private volatile long lastSweepNanos = System.nanoTime();

    private record Waiting(Lane lane, String tenant) {}

    /** One provider's turns: per tenant its virtual time and its tasks waiting (guarded by the lane). */
    static final class Lane {
        final Map<String, Double> virtualTime = new HashMap<>();
        final Map<String, Integer> waiting = new HashMap<>();


        void join(String tenant) {
            int n = waiting.getOrDefault(tenant, 0);
            if (n == 0) {
                // level with the tenants waiting now: time away is not credit
                double floor = Double.MAX_VALUE;
                for (Map.Entry<String, Integer> w : waiting.entrySet()) {
                    if (w.getValue() > 0 && !w.getKey().equals(tenant)) {
                        floor = Math.min(floor, virtualTime.getOrDefault(w.getKey(), 0.0));
                    }
                }
                if (floor != Double.MAX_VALUE) {
                    virtualTime.put(tenant, Math.max(virtualTime.getOrDefault(tenant, 0.0), floor));
                }
            }
            waiting.put(tenant, n + 1);
        }

        void leave(String tenant) {
            int n = waiting.getOrDefault(tenant, 0);
            if (n <= 1) {
                waiting.remove(tenant);
            } else {
                waiting.put(tenant, n - 1);
            }
        }

        boolean othersWaiting(String tenant) {
            for (Map.Entry<String, Integer> w : waiting.entrySet()) {
                if (w.getValue() > 0 && !w.getKey().equals(tenant)) {
                    return true;
                }
            }
            return false;
        }

        /** No other tenant with tasks waiting is behind this one. */
        boolean turnOf(String tenant) {
            double mine = virtualTime.getOrDefault(tenant, 0.0);
            for (Map.Entry<String, Integer> w : waiting.entrySet()) {
                if (w.getValue() > 0 && !w.getKey().equals(tenant)
                        && virtualTime.getOrDefault(w.getKey(), 0.0) < mine) {
                    return false;
                }
            }
            return true;
        }

        void served(String tenant, int weight) {
            virtualTime.merge(tenant, 1.0 / Math.max(1, weight), Double::sum);
        }
    }

    /**
     * Before the task takes capacity of {@code provider}: true (and the turn is counted) while no other tenant waits
     * for it, or when it is this tenant's turn; false when the task should wait for its turn. Never blocks: a task
     * whose turn it is not sleeps like one waiting for capacity (the planner's cooldown wait, {@link #turnWait}), so
     * no thread is held.
     */
    public boolean mayGo(String provider, TaskContext ctx) {
        Lane lane = lanes.computeIfAbsent(provider, p -> new Lane());
        String tenant = tenantOf(ctx);
        synchronized (lane) {
            if (lane.othersWaiting(tenant) && !lane.turnOf(tenant)) {
                return false;
            }
            lane.served(tenant, weightOf(ctx, tenant));
            return true;
        }
    }

    /** How long the task waits for its turn on {@code provider}: {@code untilNextWindow} when it is not its turn. */
    public Duration turnWait(String provider, TaskContext ctx, Duration untilNextWindow) {
        Lane lane = lanes.get(provider);
        if (lane == null) {
            return Duration.ZERO;
        }
        String tenant = tenantOf(ctx);
        synchronized (lane) {
            return lane.othersWaiting(tenant) && !lane.turnOf(tenant) ? untilNextWindow : Duration.ZERO;
        }
    }

    /** The task sleeps until {@code provider} has capacity again: it waits in that provider's lane meanwhile. */
    public void sleeping(String provider, TaskContext ctx) {
        awake(ctx);
        sweep();
        Lane lane = lanes.computeIfAbsent(provider, p -> new Lane());
        String tenant = tenantOf(ctx);
        synchronized (lane) {
            lane.join(tenant);
        }
        sleeping.put(ctx, new Waiting(lane, tenant));
    }

    /** The task is back from its sleep (or ended): it no longer waits in a lane. */
    public void awake(TaskContext ctx) {
        Waiting w = sleeping.remove(ctx);
        if (w != null) {
            synchronized (w.lane()) {
                w.lane().leave(w.tenant());
            }
        }
    }

    /** A task that ended without coming back from its sleep (a broken route) stops waiting past its deadline. */
    private void sweep() {
        long now = System.nanoTime();
        if (now - lastSweepNanos < 1_000_000_000L) {
            return;
        }
        lastSweepNanos = now;
        sleeping.keySet().forEach(ctx -> {
            if (ctx.pastDeadline()) {
                awake(ctx);
            }
        });
    }

    /** Tasks asleep for capacity, per provider and tenant (for /status and tests). */
    public Map<String, Map<String, Integer>> waiting() {
        Map<String, Map<String, Integer>> out = new java.util.TreeMap<>();
        lanes.forEach((provider, lane) -> {
            synchronized (lane) {
                if (!lane.waiting.isEmpty()) {
                    out.put(provider, new java.util.TreeMap<>(lane.waiting));
                }
            }
        });
        return out;
    }

    private static String tenantOf(TaskContext ctx) {
        String tenant = ctx.task().tenant();
        return tenant != null && ctx.catalog().tenant(tenant) != null ? tenant : NO_TENANT;
    }

    private static int weightOf(TaskContext ctx, String tenant) {
        Catalog catalog = ctx.catalog();
        TenantSpec spec = catalog.tenant(tenant);
        return spec == null ? 1 : spec.weight();
    }
}
