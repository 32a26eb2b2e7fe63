package io.caravan.accounting;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.TenantSpec;
import io.caravan.catalog.TierSpec;
import io.caravan.dispatch.PromptSize;
import io.caravan.provider.AdapterSupport;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.TenantRateLimits;
import io.caravan.routing.TierRouter;
import io.caravan.task.Attempt;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskError;
import io.caravan.util.Json;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.function.IntSupplier;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;

/**
 * What a tenant may do, checked where it is decided:
 * <ul>
 *   <li>{@link #route} (the tier router's last step): a tier or group outside the tenant's {@code allow:} is
 *       {@code not_allowed} (a tier the router chose itself becomes the tenant's {@code default_tier} instead);
 *       a task that names a group is under the budget of every tier that routes to that group;
 *   <li>{@link #beforeCall} (before every provider call, retries included): the tenant's monthly budget against
 *       the ledger plus what this instance has in flight for it (each call reserves its estimated cost, the
 *       largest it can be: prompt estimate and the output limit at the deployment's price) plus the cost of its
 *       finished calls the ledger has not read yet; with several instances each keeps to its share of what is
 *       left, so the fleet overshoots a budget by at most one call per instance. Then the tenant's rpm/tpm
 *       across the fleet ({@link TenantRateLimits}): over it, {@code rate_limited} with the wait until it has room.
 * </ul>
 * A refused call ends the task (its error type and, for a rate, {@link TaskContext#retryAfterMs}); no provider is
 * called. Only tenants with a budget or a limit are tracked, so every map here is bounded by the catalog (and, for
 * the holds, by the tasks in flight).
 */
public final class TenantAdmission {

    /** A call's reservation: its tenant, the cost it reserved, the task's cost and tokens when it began. */
    private record Hold(String tenant, double reserved, double costBefore, long tokensEstimated, long tokensBefore,
            long sinceNanos) {}

    /** The longest a call waits for the tenant's calls in flight to settle before it is refused. */
    static final Duration MAX_WAIT = Duration.ofSeconds(30);

    private final SpendLedger ledger;
    private final TenantRateLimits rates;
    private final String instance;
    private final IntSupplier members;
    private final long defaultOutputTokens;
    private final Duration rebuildWait;
    private final Map<TaskContext, Hold> holds = new ConcurrentHashMap<>();
    private final Map<String, DoubleAdder> reserved = new ConcurrentHashMap<>();
    private final Map<String, DoubleAdder> unseen = new ConcurrentHashMap<>();
    private final Map<String, Object> locks = new ConcurrentHashMap<>();
    private volatile long lastSweepNanos = System.nanoTime();

    public TenantAdmission(SpendLedger ledger, TenantRateLimits rates, String instance, IntSupplier members,
            long defaultOutputTokens, Duration rebuildWait) {
        this.ledger = ledger;
        this.rates = rates;
        this.instance = instance;
        this.members = members;
        this.defaultOutputTokens = defaultOutputTokens;
        this.rebuildWait = rebuildWait;
    }

    public TenantRateLimits rates() {
        return rates;
    }

    // ---- routing ---------------------------------------------------------------------------------------------

    public void route(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        if (ctx.done() || ctx.group() == null) {
            return;
        }
        Catalog catalog = ctx.catalog();
        // which rule of the tier router decided: the task named a group, or the router chose (keyword, score)
        boolean namedByTask = TierRouter.hasExplicitTier(exchange) || TierRouter.asksForTierAlias(exchange);
        boolean namedGroup = !namedByTask && TierRouter.asksForGroup(exchange);
        TenantSpec tenant = catalog.tenant(ctx.task().tenant());
        if (tenant != null && !tenant.allows(ctx.tier(), ctx.group(), namedGroup, catalog)) {
            boolean chosenByRouter = !namedByTask && !namedGroup;
            TierSpec fallback = tenant.defaultTier() == null ? null : catalog.tier(tenant.defaultTier());
            if (chosenByRouter && fallback != null) {
                ctx.route(fallback.name(), fallback.group(), ctx.routingReason() + "; tenant " + tenant.name()
                        + " may not use tier " + ctx.tier() + " -> its default tier " + fallback.name());
            } else {
                ctx.fail(new TaskError(ErrorClass.NOT_ALLOWED, "tenant " + tenant.name() + " may not use "
                        + (namedGroup || ctx.tier() == null ? "group " + ctx.group() : "tier " + ctx.tier())));
                return;
            }
        }
        if (namedGroup) {
            // a task naming a group directly spends what the tiers of that group budget
            for (TierSpec tier : catalog.tierList()) {
                Double limit = catalog.budgets().tiers().get(tier.name());
                if (tier.group().equals(ctx.group()) && limit != null && ledger.tierSpend(tier.name()) >= limit) {
                    ctx.fail(new TaskError(ErrorClass.BUDGET_EXCEEDED, String.format(Locale.ROOT,
                            "group %s is the group of tier %s, whose budget is spent (%.2f of %.2f USD this month)",
                            ctx.group(), tier.name(), ledger.tierSpend(tier.name()), limit)));
                    return;
                }
            }
        }
    }

    // ---- before each call ------------------------------------------------------------------------------------

    /** The attempt route's first step; a refusal ends the task and the call is not made ({@link #admitted}). */
    public void beforeCall(Exchange exchange) throws InterruptedException {
        TaskContext ctx = TaskContext.of(exchange);
        settle(ctx);
        String name = ctx.task().tenant();
        if (name == null || ctx.done()) {
            return;
        }
        Catalog catalog = ctx.catalog();
        Double limit = catalog.budgets().tenants().get(name);
        TenantSpec tenant = catalog.tenant(name);
        if (limit == null && !TenantRateLimits.limited(tenant)) {
            return;
        }
        sweep();
        long tokens = estimateTokens(ctx);
        double estimate = limit == null ? 0 : estimateCost(ctx.current().deployment(), ctx, tokens);
        if (!ledger.rebuilt()) {
            // the month's spend and this window's calls (of the whole fleet) are read back from the usage topic:
            // until then neither the budget nor the rate knows what was spent before this instance started
            ledger.awaitRebuilt(rebuildWait);
        }
        if (limit != null) {
            Object lock = locks.computeIfAbsent(name, n -> new Object());
            long waitUntil = System.nanoTime() + Math.min(ctx.remainingMs(), MAX_WAIT.toMillis()) * 1_000_000L;
            synchronized (lock) {
                while (true) {
                    double spent = ledger.tenantSpend(name);
                    double mine = adder(reserved, name).sum();
                    double late = adder(unseen, name).sum();
                    // this instance's spend the ledger has not read yet, and its share of what the ledger says
                    // is left: every instance keeps to its share, so together they stay within the budget
                    double pending = Math.max(0, mine + late);
                    double room = limit - spent;
                    double share = room / Math.max(1, members.getAsInt());
                    if (pending <= 0 ? room > 0 : pending + estimate <= share) {
                        break;
                    }
                    long leftNanos = waitUntil - System.nanoTime();
                    if (pending <= 0 || room - pending < estimate || leftNanos <= 0 || ctx.callerGone()) {
                        ctx.fail(new TaskError(ErrorClass.BUDGET_EXCEEDED, String.format(Locale.ROOT,
                                "tenant %s budget spent (%.4f of %.2f USD this month, %.4f reserved by calls in flight)",
                                name, spent + late, limit, mine)));
                        return;
                    }
                    // past this instance's share, but the budget has room: once its calls settle and the ledger
                    // reads them (and the peers'), the real spend decides
                    lock.wait(Math.max(1, Math.min(100, leftNanos / 1_000_000L)));
                }
                adder(reserved, name).add(estimate);
            }
        }
        if (!rates.tryAcquire(tenant, tokens)) {
            if (limit != null) {
                adder(reserved, name).add(-estimate);
            }
            Duration wait = rates.untilCapacity(tenant, tokens);
            ctx.retryAfterMs(Math.max(1, wait.toMillis()));
            ctx.fail(new TaskError(ErrorClass.RATE_LIMITED, "tenant " + name + " is at its "
                    + (tenant.rpm() != null ? "rpm" : "tpm") + " limit; room again in " + wait.toMillis() + " ms"));
            return;
        }
        holds.put(ctx, new Hold(name, estimate, ctx.totalCost(), TenantRateLimits.limited(tenant) ? tokens : 0,
                tokens(ctx), System.nanoTime()));
    }

    /** The filter around the call: false once {@link #beforeCall} refused it. */
    public static boolean admitted(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        return ctx == null || !ctx.done();
    }

    /**
     * Ends the task's reservation, if it holds one: the reserved cost is given back and the real cost of the call
     * counts as spent until the ledger reads its usage event. A stream still being written keeps its hold until it
     * ends (its cost is known then).
     */
    public void settle(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        if (ctx == null) {
            return;
        }
        Hold hold = holds.remove(ctx);
        if (hold == null) {
            return;
        }
        double actual = Math.max(0, ctx.totalCost() - hold.costBefore());
        Object lock = locks.computeIfAbsent(hold.tenant(), n -> new Object());
        synchronized (lock) {
            adder(reserved, hold.tenant()).add(-hold.reserved());
            if (actual > 0) {
                adder(unseen, hold.tenant()).add(actual);
            }
            lock.notifyAll(); // calls waiting for their share look again
        }
        if (hold.tokensEstimated() > 0) {
            rates.correct(ctx.catalog().tenant(hold.tenant()), hold.tokensEstimated(),
                    Math.max(0, tokens(ctx) - hold.tokensBefore()));
        }
    }

    /** The dispatch route's end: settles, unless the answer is still streaming (the intake settles it then). */
    public void dispatched(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        if (ctx != null && ctx.stream() == null) {
            settle(ctx);
        }
    }

    /** A usage event read by the ledger: once this instance's own event is read, its cost is in the ledger. */
    public void apply(UsageEvent e) {
        if (e != null && e.tenant() != null && instance.equals(e.instance()) && e.costUsd() > 0) {
            DoubleAdder late = unseen.get(e.tenant());
            if (late != null) {
                synchronized (locks.computeIfAbsent(e.tenant(), n -> new Object())) {
                    late.add(-Math.min(late.sum(), e.costUsd()));
                }
            }
        }
        rates.apply(e);
    }

    /** Holds of tasks long past their deadline (a task route that broke before settling) are given back. */
    private void sweep() {
        long now = System.nanoTime();
        if (now - lastSweepNanos < 1_000_000_000L) {
            return;
        }
        lastSweepNanos = now;
        holds.forEach((ctx, hold) -> {
            if (ctx.pastDeadline() && now - hold.sinceNanos() > Duration.ofMinutes(5).toNanos()) {
                settle(ctx);
            }
        });
    }

    private long estimateTokens(TaskContext ctx) {
        return PromptSize.estimateTokens(ctx.task().messages(), ctx.task().params()) + outputTokens(ctx);
    }

    /** The most a call can cost: the prompt estimate and the output limit, at the deployment's price. */
    private double estimateCost(DeploymentSpec deployment, TaskContext ctx, long tokens) {
        long output = outputTokens(ctx);
        return deployment.price().cost(Math.max(0, tokens - output), 0, output);
    }

    private long outputTokens(TaskContext ctx) {
        Integer asked = AdapterSupport.maxTokens(ctx.task().params());
        DeploymentSpec d = ctx.current() == null ? null : ctx.current().deployment();
        if (asked != null) {
            return asked;
        }
        return d != null && d.maxOutputTokens() != null ? d.maxOutputTokens() : defaultOutputTokens;
    }

    private static long tokens(TaskContext ctx) {
        long sum = 0;
        synchronized (ctx.attempts()) {
            for (Attempt a : ctx.attempts()) {
                sum += a.usage().input() + a.usage().output();
            }
        }
        return sum;
    }

    private static DoubleAdder adder(Map<String, DoubleAdder> map, String tenant) {
        return map.computeIfAbsent(tenant, t -> new DoubleAdder());
    }

    // ---- status ----------------------------------------------------------------------------------------------

    /** The {@code tenants} section of /status: per tenant its spend, reserved, limit and rate use; never keys. */
    public ObjectNode status(Catalog catalog) {
        ObjectNode root = Json.object();
        for (TenantSpec t : catalog.tenants().values()) {
            ObjectNode n = root.putObject(t.name());
            n.put("keys", t.keyHashes().size());
            n.put("spent_usd", ledger.tenantSpend(t.name()));
            DoubleAdder r = reserved.get(t.name());
            n.put("reserved_usd", r == null ? 0 : Math.max(0, r.sum()));
            DoubleAdder u = unseen.get(t.name());
            n.put("unsettled_usd", u == null ? 0 : Math.max(0, u.sum()));
            Double limit = catalog.budgets().tenants().get(t.name());
            n.put("budget_usd", limit);
            n.put("rpm", t.rpm());
            n.put("tpm", t.tpm());
            n.put("requests_this_window", rates.requestsUsed(t));
            n.put("window_ms", rates.window().toMillis());
            n.put("weight", t.weight());
        }
        return root;
    }
}
