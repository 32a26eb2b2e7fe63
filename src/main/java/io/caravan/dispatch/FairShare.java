package io.caravan.dispatch;

import io.caravan.catalog.ProviderSpec;
import io.caravan.catalog.TenantSpec;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.KeyPool;
import io.caravan.resilience.RateLimits;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskError;
import io.caravan.util.CamelTimer;
import io.caravan.util.ElasticThreadPool;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fair shares of a rate-limited provider's capacity between tenants (catalogs with {@code tenants:} only). A task
 * that finds no capacity does not poll for it: it queues in the provider's lane, in its tenant's queue, and holds
 * no thread ({@code direct:capacity-wait} in routes/dispatch.yaml, an asynchronous step). As the provider has
 * capacity again, this hands it out one call at a time by start-time fair queueing: the next call goes to the
 * tenant with the least virtual time among those waiting, and adds {@code 1/weight} to it; the call's rpm/tpm is
 * taken for the task ({@link #granted}) before it is woken, so the tasks woken are exactly those that have a call,
 * whatever the number each tenant has waiting. A tenant that starts waiting starts level with those waiting (time
 * away is not credit). While a lane has tasks waiting, a task coming fresh to that provider queues behind them
 * ({@link #queueing}) instead of taking the capacity first.
 *
 * <p>The queues hold tasks that are in flight anyway (bounded by the intakes); the rest of the state is bounded by
 * providers × tenants. A task whose deadline passes, or whose caller went away, is woken without a call (the
 * planner then ends it).
 *
 * <p>At stop ({@link #stop}, when the drain's grace period is over and the routes still run) the tasks still
 * waiting end without a call, as {@code server_error} "Caravan is stopping": an HTTP caller is answered 503, and a
 * Kafka task is marked {@link #STOPPED_WAITING} so the worker leaves its offset uncommitted for the partition's
 * next owner. None is woken into a stopped route. The pump is a timer of Camel's executor service manager (it
 * stops with the context); the woken tasks' pool is Caravan's own elastic pool (Camel's profiles either queue
 * before they grow or refuse past their maximum), shut down by {@link #close}.
 */
public final class FairShare extends AsyncProcessorSupport {

    /** The capacity wait's endpoint (routes/dispatch.yaml). */
    public static final String CAPACITY_WAIT = "direct:capacity-wait";
    /** How often the lanes with tasks waiting look for capacity again (besides when a task joins). */
    static final Duration TICK = Duration.ofMillis(20);
    /** How often the lanes look for tasks whose deadline passed or whose caller went away. */
    static final Duration EXPIRY_CHECK = Duration.ofMillis(200);
    /** Exchange property of a task that was still waiting when Caravan stopped: a Kafka task is left uncommitted. */
    public static final String STOPPED_WAITING = "caravanStoppedWaiting";
    private static final Logger LOG = LoggerFactory.getLogger(FairShare.class);
    private static final String NO_TENANT = "";

    private final KeyPool keys;
    private final RateLimits limits;
    private final Map<String, Lane> lanes = new ConcurrentHashMap<>();
    /** The provider a task is about to wait for, between the planner's decision and the wait step. */
    private final Map<TaskContext, ProviderSpec> waitFor = new ConcurrentHashMap<>();
    /** The key whose capacity was taken for a woken task, until its call uses it. */
    private final Map<TaskContext, Grant> grants = new ConcurrentHashMap<>();
    private final CamelTimer pump = new CamelTimer(this, "caravan-fair-share");
    /** Woken tasks go on here (their provider call included), never on the pump's thread. */
    private final ExecutorService wake;
    private final AtomicInteger waiting = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicBoolean ticking = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile boolean closed;
    private long lastSweepNanos = System.nanoTime(); // the pump's thread only

    private record Grant(String provider, int key) {}

    record Waiter(TaskContext ctx, Exchange exchange, AsyncCallback callback, ProviderSpec provider,
            long tokens) {}

    /** One provider's waiting tasks per tenant and the tenants' virtual times (guarded by the lane). */
    static final class Lane {
        final Map<String, Double> virtualTime = new HashMap<>();
        final Map<String, ArrayDeque<Waiter>> queues = new LinkedHashMap<>();
        /** Tasks queued: read without the lock by every task coming to the provider. */
        volatile int size;
        /** A pass over the lane is scheduled: the pump does one at a time, however many tasks join meanwhile. */
        final java.util.concurrent.atomic.AtomicBoolean passDue = new java.util.concurrent.atomic.AtomicBoolean();
        long lastExpiryNanos;

        void join(String tenant, Waiter w) {
            ArrayDeque<Waiter> queue = queues.computeIfAbsent(tenant, t -> new ArrayDeque<>());
            if (queue.isEmpty()) {
                // level with the tenants waiting now: time away is not credit
                double floor = Double.MAX_VALUE;
                for (Map.Entry<String, ArrayDeque<Waiter>> q : queues.entrySet()) {
                    if (!q.getValue().isEmpty()) {
                        floor = Math.min(floor, virtualTime.getOrDefault(q.getKey(), 0.0));
                    }
                }
                if (floor != Double.MAX_VALUE) {
                    virtualTime.put(tenant, Math.max(virtualTime.getOrDefault(tenant, 0.0), floor));
                }
            }
            queue.addLast(w);
            size++;
        }

        /** The tenant whose turn it is: the least virtual time among those waiting (the longest waiting on a tie). */
        String next() {
            String best = null;
            double bestTime = Double.MAX_VALUE;
            for (Map.Entry<String, ArrayDeque<Waiter>> q : queues.entrySet()) {
                double t = virtualTime.getOrDefault(q.getKey(), 0.0);
                if (!q.getValue().isEmpty() && t < bestTime) {
                    best = q.getKey();
                    bestTime = t;
                }
            }
            return best;
        }

        void served(String tenant, int weight) {
            virtualTime.merge(tenant, 1.0 / Math.max(1, weight), Double::sum);
        }

        Waiter take(String tenant) {
            size--;
            return queues.get(tenant).pollFirst();
        }
    }

    public FairShare(KeyPool keys, RateLimits limits, int maxWokenThreads) {
        this.keys = keys;
        this.limits = limits;
        AtomicInteger n = new AtomicInteger();
        this.wake = new ElasticThreadPool(maxWokenThreads, Duration.ofSeconds(60),
                r -> daemon(r, "caravan-fair-share-" + n.incrementAndGet()));
    }

    /** The pump ticks from the first wait on (a Caravan whose tasks never wait for capacity runs no tick). */
    private void ticking(ScheduledExecutorService p) {
        if (ticking.compareAndSet(false, true)) {
            p.scheduleWithFixedDelay(() -> passAll(p), TICK.toMillis(), TICK.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Whether tasks of this catalog take turns: only when it names tenants, for a provider with limits. */
    public static boolean applies(TaskContext ctx, ProviderSpec provider) {
        return ctx.catalog().hasTenants() && RateLimits.limited(provider);
    }

    /** Whether tasks wait for {@code provider}: a task coming to it now queues behind them. */
    public boolean queueing(TaskContext ctx, ProviderSpec provider) {
        if (!applies(ctx, provider)) {
            return false;
        }
        Lane lane = lanes.get(provider.name());
        return lane != null && lane.size > 0;
    }

    /** The planner's decision: the task waits for {@code provider}'s capacity in its lane (the next step). */
    public void willWait(TaskContext ctx, ProviderSpec provider) {
        waitFor.put(ctx, provider);
    }

    /** The key whose capacity was taken for this task's call to {@code provider}, or -1 (then it picks one). */
    public int granted(TaskContext ctx, String provider) {
        Grant grant = grants.get(ctx);
        if (grant == null || !grant.provider().equals(provider) || grant.key() >= keys.size(provider)) {
            return -1;
        }
        grants.remove(ctx);
        return grant.key();
    }

    /** The task ended: whatever it was granted and did not use is forgotten. */
    public void ended(TaskContext ctx) {
        grants.remove(ctx);
        waitFor.remove(ctx);
    }

    /** The capacity wait: the task joins its lane and goes on when it has a call, or its deadline passed. */
    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        TaskContext ctx = TaskContext.of(exchange);
        ProviderSpec provider = ctx == null ? null : waitFor.remove(ctx);
        if (provider != null && closed) {
            endAtStop(ctx, exchange, provider);
        }
        if (provider == null || closed) {
            callback.done(true);
            return true;
        }
        grants.remove(ctx);
        Lane lane = lanes.computeIfAbsent(provider.name(), p -> new Lane());
        Waiter waiter = new Waiter(ctx, exchange, callback, provider, ProviderCalls.estimateTokens(ctx));
        String tenant = tenantOf(ctx);
        synchronized (lane) {
            lane.join(tenant, waiter);
        }
        waiting.incrementAndGet();
        ScheduledExecutorService p = pump.of(exchange.getContext());
        ticking(p);
        if (closed && stopLane(lane) > 0) {
            return false; // stopped meanwhile: this task too was ended by the stop
        }
        schedulePass(lane, p);
        return false;
    }

    private void schedulePass(Lane lane, ScheduledExecutorService p) {
        if (lane.passDue.compareAndSet(false, true)) {
            try {
                p.execute(() -> pass(lane));
            } catch (RejectedExecutionException e) {
                lane.passDue.set(false); // stopped meanwhile: stop() ends every waiter
            }
        }
    }

    private void passAll(ScheduledExecutorService p) {
        long now = System.nanoTime();
        if (now - lastSweepNanos >= EXPIRY_CHECK.toNanos()) {
            // a task whose walk broke off between its wake-up and its call leaves its grant behind: forgotten here
            lastSweepNanos = now;
            grants.keySet().removeIf(ctx -> ctx.done() || ctx.pastDeadline());
            waitFor.keySet().removeIf(ctx -> ctx.done() || ctx.pastDeadline());
        }
        if (waiting.get() == 0 || closed) {
            return;
        }
        lanes.values().forEach(lane -> schedulePass(lane, p));
    }

    /** Hands the lane's capacity out, one call at a time in fair order, until it has none left now. */
    private void pass(Lane lane) {
        lane.passDue.set(false);
        java.util.List<Waiter> woken = new java.util.ArrayList<>();
        try {
            synchronized (lane) {
                if (closed) {
                    return; // stop() ends the lane's tasks
                }
                long now = System.nanoTime();
                if (now - lane.lastExpiryNanos >= EXPIRY_CHECK.toNanos()) {
                    lane.lastExpiryNanos = now;
                    wakeExpired(lane, woken);
                }
                while (lane.size > 0) {
                    String tenant = lane.next();
                    if (tenant == null) {
                        break;
                    }
                    Waiter w = lane.queues.get(tenant).peekFirst();
                    String provider = w.provider().name();
                    int key = keys.size(provider) == 0 ? -1
                            : keys.pick(provider, k -> limits.tryAcquire(w.provider(), k, w.tokens()));
                    if (key < 0 && keys.size(provider) > 0) {
                        break; // no capacity now: the next tick looks again
                    }
                    lane.take(tenant);
                    lane.served(tenant, weightOf(w.ctx(), tenant));
                    grants.put(w.ctx(), new Grant(provider, key));
                    woken.add(w);
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("fair share: a pass over a lane failed", e);
        }
        // outside the lane: tasks coming to the provider meanwhile are not held up by the wake-ups
        woken.forEach(this::resume);
    }

    /** Tasks past their deadline, or whose caller went away, go on without a call (the planner ends them). */
    private void wakeExpired(Lane lane, java.util.List<Waiter> woken) {
        for (ArrayDeque<Waiter> queue : lane.queues.values()) {
            Iterator<Waiter> it = queue.iterator();
            while (it.hasNext()) {
                Waiter w = it.next();
                if (w.ctx().pastDeadline() || w.ctx().callerGone() || w.ctx().done()) {
                    it.remove();
                    lane.size--;
                    woken.add(w);
                }
            }
        }
        lane.queues.values().removeIf(ArrayDeque::isEmpty);
    }

    private void resume(Waiter w) {
        waiting.decrementAndGet();
        try {
            wake.execute(() -> w.callback().done(false));
        } catch (RejectedExecutionException e) {
            w.callback().done(false);
        }
    }

    /** Tasks waiting for capacity, per provider and tenant (for /status and tests). */
    public Map<String, Map<String, Integer>> waiting() {
        Map<String, Map<String, Integer>> out = new TreeMap<>();
        lanes.forEach((provider, lane) -> {
            synchronized (lane) {
                Map<String, Integer> counts = new TreeMap<>();
                lane.queues.forEach((tenant, q) -> {
                    if (!q.isEmpty()) {
                        counts.put(tenant.isEmpty() ? "none" : tenant, q.size());
                    }
                });
                if (!counts.isEmpty()) {
                    out.put(provider, counts);
                }
            }
        });
        return out;
    }

    /**
     * Caravan stops (the drain's grace period is over; the routes still run): every task still waiting ends
     * without a call ({@link #endAtStop}) and goes on through its route, and no task waits from now on.
     */
    public void stop() {
        if (closed) {
            return;
        }
        closed = true;
        int ended = 0;
        for (Lane lane : lanes.values()) {
            ended += stopLane(lane);
        }
        if (ended > 0) {
            LOG.info("stopping: {} tasks waiting for provider capacity end without a call (HTTP: 503; Kafka: left"
                    + " uncommitted for the partition's next owner)", ended);
        }
    }

    private int stopLane(Lane lane) {
        java.util.List<Waiter> stopped = new java.util.ArrayList<>();
        synchronized (lane) {
            lane.queues.values().forEach(stopped::addAll);
            lane.queues.clear();
            lane.size = 0;
        }
        for (Waiter w : stopped) {
            endAtStop(w.ctx(), w.exchange(), w.provider());
            resume(w);
        }
        return stopped.size();
    }

    /**
     * A task that was waiting when Caravan stopped: a {@code server_error} that asks to be sent again (HTTP: 503,
     * {@code Retry-After}); marked so that a Kafka task's offset is left for the partition's next owner.
     */
    private void endAtStop(TaskContext ctx, Exchange exchange, ProviderSpec provider) {
        grants.remove(ctx);
        exchange.setProperty(STOPPED_WAITING, Boolean.TRUE);
        if (!ctx.done()) {
            ctx.retryAfterMs(1000);
            ctx.fail(new TaskError(ErrorClass.SERVER_ERROR, "Caravan is stopping: the task was waiting for capacity"
                    + " at provider " + provider.name() + "; send it again"));
        }
    }

    /** After Camel has stopped: ends whatever still waits ({@link #stop}) and lets the woken tasks' threads go. */
    public void close() {
        stop();
        wake.shutdown();
    }

    private static String tenantOf(TaskContext ctx) {
        String tenant = ctx.task().tenant();
        return tenant != null && ctx.catalog().tenant(tenant) != null ? tenant : NO_TENANT;
    }

    private static int weightOf(TaskContext ctx, String tenant) {
        TenantSpec spec = ctx.catalog().tenant(tenant);
        return spec == null ? 1 : spec.weight();
    }
}
