package io.caravan.operations;

import io.caravan.accounting.SpendLedger;
import io.caravan.accounting.UsageEvent;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogHolder;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.resilience.Breakers;
import io.caravan.task.Attempt;
import io.caravan.task.Outcome;
import io.caravan.task.TaskContext;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Caravan's metrics (contract section 8) on one Prometheus registry, which Camel's route metrics share. The task
 * route calls {@link #record} once per finished task; breaker states and budgets left are gauges read at scrape
 * time. Labels carry names from the catalog only, never a key.
 */
public final class TaskMetrics {

    private static final Logger LOG = LoggerFactory.getLogger(TaskMetrics.class);
    static final String NONE = "none";
    private static final Duration[] BUCKETS = {
        Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
        Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10),
        Duration.ofSeconds(30), Duration.ofSeconds(60), Duration.ofSeconds(120)};

    private final PrometheusMeterRegistry registry;
    private final StatusBoard board;
    /** Meters by name and label values: building and registering a meter id for every task costs more than counting. */
    private final Map<List<String>, Counter> counters = new ConcurrentHashMap<>();
    private final Map<List<String>, Timer> timers = new ConcurrentHashMap<>();
    /** The catalog's gauges by deployment or budget scope. */
    private Map<String, Gauge> gauges = Map.of();
    private static final String BUDGET_LEFT = "Month-to-date budget left, USD";

    public TaskMetrics(PrometheusMeterRegistry registry, StatusBoard board) {
        this.registry = registry;
        this.board = board;
    }

    public static PrometheusMeterRegistry newRegistry() {
        return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /**
     * One gauge per deployment (its breaker) and per budget scope (what is left this month), for the catalog in
     * force: a reload adds the gauges of new deployments and scopes, drops those of removed ones, and a changed
     * limit shows at the next scrape.
     */
    public void followCatalog(CatalogHolder catalogs, Breakers breakers, SpendLedger ledger) {
        gaugeCatalog(catalogs.current(), catalogs, breakers, ledger);
        catalogs.onSwap(catalog -> gaugeCatalog(catalog, catalogs, breakers, ledger));
    }

    private synchronized void gaugeCatalog(Catalog catalog, CatalogHolder catalogs, Breakers breakers,
            SpendLedger ledger) {
        Map<String, Gauge> wanted = new LinkedHashMap<>();
        for (DeploymentSpec d : catalog.deployments()) {
            String id = d.id();
            keep(wanted, "deployment", id, "Circuit breaker of a deployment: 0 closed, 1 half-open, 2 open",
                    "caravan.circuit.state", () -> breakerState(breakers.find(id)));
        }
        // a budget gauge reads the limit of the catalog in force, so a changed limit needs no new gauge
        for (String tier : catalog.budgets().tiers().keySet()) {
            keep(wanted, "scope", "tier:" + tier, BUDGET_LEFT, "caravan.budget.remaining.usd",
                    () -> left(catalogs.current().budgets().tiers().get(tier), ledger.tierSpend(tier)));
        }
        for (String tenant : catalog.budgets().tenants().keySet()) {
            keep(wanted, "scope", "tenant:" + tenant, BUDGET_LEFT, "caravan.budget.remaining.usd",
                    () -> left(catalogs.current().budgets().tenants().get(tenant), ledger.tenantSpend(tenant)));
        }
        gauges.forEach((key, gauge) -> {
            if (!wanted.containsKey(key)) {
                registry.remove(gauge);
            }
        });
        gauges = wanted;
    }

    /** The gauge already registered for this label, or a new one. */
    private void keep(Map<String, Gauge> wanted, String label, String value, String description, String name,
            Supplier<Number> reading) {
        String key = label + "=" + value;
        Gauge gauge = gauges.get(key);
        wanted.put(key, gauge != null ? gauge
                : Gauge.builder(name, reading).description(description).tag(label, value).register(registry));
    }

    /** What a limit leaves of the spend; NaN for a scope the catalog no longer limits (between swap and removal). */
    private static double left(Double limit, double spent) {
        return limit == null ? Double.NaN : Math.max(0, limit - spent);
    }

    /**
     * The spend ledger's own books: usage records it ignored as impossible, by reason
     * ({@code caravan_usage_events_rejected_total}), events of tenants past the tracked number, and reader restarts.
     */
    public void followLedger(SpendLedger ledger) {
        for (UsageEvent.Rejection reason : UsageEvent.Rejection.values()) {
            FunctionCounter.builder("caravan.usage.events.rejected", ledger, l -> l.rejected(reason))
                    .description("Usage records the spend ledger ignored as impossible")
                    .tag("reason", reason.label()).register(registry);
        }
        FunctionCounter.builder("caravan.usage.events.untracked.tenant", ledger, SpendLedger::untrackedTenantEvents)
                .description("Usage events whose tenant was past caravan.ledger.max-tenants (spend counted as other tenants)")
                .register(registry);
        FunctionCounter.builder("caravan.spend.ledger.restarts", ledger, SpendLedger::restarts)
                .description("Restarts of the spend ledger's reader after a fault").register(registry);
    }

    /** 0 closed, 1 half-open, 2 open (forced open counts as open). */
    public static int breakerState(CircuitBreaker breaker) {
        if (breaker == null) {
            return 0;
        }
        return switch (breaker.getState()) {
            case HALF_OPEN -> 1;
            case OPEN, FORCED_OPEN -> 2;
            default -> 0;
        };
    }

    public static String breakerName(int state) {
        return switch (state) {
            case 1 -> "half_open";
            case 2 -> "open";
            default -> "closed";
        };
    }

    /** Exchange property: the task is counted; a route that breaks afterwards does not count it again. */
    public static final String COUNTED = "caravanTaskCounted";

    /**
     * The task route's step after dispatch: counts the finished task and each of its attempts. A streamed answer
     * is still flowing then (its answering attempt, tokens and cost are known when it ends): it is counted by
     * {@link #streamEnded}. Never throws.
     */
    public void record(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        if (ctx == null || ctx.stream() != null) {
            return;
        }
        recordNow(ctx, exchange);
    }

    /** The chat route's step once a streamed answer ended: counts the task with its real outcome. Never throws. */
    public void streamEnded(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        if (ctx != null) {
            recordNow(ctx, exchange);
        }
    }

    /**
     * The HTTP doors' step after a task broke inside Caravan (now a {@code server_error}): counts it, streamed or
     * not, unless it was counted before the breakage. Never throws.
     */
    public void broke(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        streamEnded(ctx, exchange);
    }

    private void recordNow(TaskContext ctx, Exchange exchange) {
        if (exchange.getProperty(COUNTED) != null) {
            return;
        }
        exchange.setProperty(COUNTED, Boolean.TRUE);
        try {
            doRecord(ctx);
        } catch (RuntimeException e) {
            LOG.warn("cannot record metrics of task {}: {}", ctx.task().id(), e.toString());
        }
    }

    private void doRecord(TaskContext ctx) {
        List<Attempt> attempts = ctx.attempts();
        String tier = label(ctx.tier());
        String outcome = Outcome.ofTask(ctx);
        if (outcome.equals(Outcome.ACCEPTED.wireName())) {
            return; // not finished: counted when its batch, or the online rescue, answers it
        }
        var by = outcome.equals(Outcome.OK.wireName()) ? ctx.answeredBy() : null;
        String model = label(by == null ? ctx.group() : by.group());
        String provider = label(by == null ? null : by.deployment().provider());
        if (tenantLabel) {
            // a tenant of the catalog, else "none": the label's values are bounded by the catalog
            String tenant = ctx.task().tenant();
            counter("caravan.requests", "Finished tasks", "tier", tier, "model", model, "provider", provider,
                    "outcome", outcome, "tenant", tenant != null && ctx.catalog().tenant(tenant) != null ? tenant
                            : "none").increment();
        } else {
            counter("caravan.requests", "Finished tasks",
                    "tier", tier, "model", model, "provider", provider, "outcome", outcome).increment();
        }

        // one meaning (docs/routing-and-fallback.md, Fallback): the answer came from a deployment other than the first of the plan
        boolean fellBack = by != null && by.fallback();
        if (fellBack) {
            counter("caravan.fallbacks", "Tasks answered by a deployment other than the first of their plan",
                    "from", by.fallbackFrom(), "to", by.deployment().id()).increment();
        }
        for (Attempt a : attempts) {
            attemptTimer(label(a.provider()), label(a.deployment()), a.outcome().wireName())
                    .record(a.latencyMs(), TimeUnit.MILLISECONDS);
            tokens(a, "input", a.usage().input());
            tokens(a, "cached_input", a.usage().cachedInput());
            tokens(a, "output", a.usage().output());
            if (a.costUsd() != 0) {
                counter("caravan.cost.usd", "Spend, USD",
                        "tier", tier, "model", label(a.group()), "provider", label(a.provider())).increment(a.costUsd());
            }
            board.attempt(a, fellBack && a.ok() && a.deployment().equals(by.deployment().id()), ctx.tier());
        }
        board.task(fellBack ? 1 : 0);
    }

    private volatile boolean tenantLabel;

    /**
     * Labels {@code caravan_requests_total} by tenant: set at start-up when the catalog has tenants, and kept for
     * the life of the process (a metric keeps one label set; tenants added by a reload get the label at restart).
     */
    public TaskMetrics labelTenants(boolean on) {
        this.tenantLabel = on;
        return this;
    }

    private void tokens(Attempt a, String kind, long count) {
        Counter counter = counter("caravan.tokens", "Tokens",
                "provider", label(a.provider()), "model", label(a.group()), "kind", kind);
        if (count > 0) {
            counter.increment(count);
        }
    }

    /** The counter of this name and these label pairs (name, value, name, value...), registered on first use. */
    private Counter counter(String name, String description, String... tags) {
        List<String> key = key(name, tags);
        Counter counter = counters.get(key);
        return counter != null ? counter : counters.computeIfAbsent(key,
                k -> Counter.builder(name).description(description).tags(tags).register(registry));
    }

    private Timer attemptTimer(String provider, String deployment, String outcome) {
        List<String> key = List.of(provider, deployment, outcome);
        Timer timer = timers.get(key);
        return timer != null ? timer : timers.computeIfAbsent(key, k -> Timer.builder("caravan.attempt")
                .description("Provider attempts")
                .tags("provider", provider, "deployment", deployment, "outcome", outcome)
                .serviceLevelObjectives(BUCKETS)
                .register(registry));
    }

    private static List<String> key(String name, String[] tags) {
        String[] key = new String[tags.length + 1];
        key[0] = name;
        System.arraycopy(tags, 0, key, 1, tags.length);
        return List.of(key);
    }

    private static String label(String value) {
        return value == null || value.isEmpty() ? NONE : value;
    }

    /** The Prometheus text exposition of every meter (Caravan's and Camel's). */
    public String scrape() {
        return registry.scrape();
    }
}
