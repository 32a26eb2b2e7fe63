package io.caravan.operations;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.accounting.SpendLedger;
import io.caravan.catalog.BudgetSpec;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogHolder;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.resilience.Breakers;
import io.caravan.resilience.ErrorClass;
import io.caravan.task.Attempt;
import io.caravan.util.Json;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * What {@code GET /status} shows (contract section 7): per deployment since this instance started, totals, and
 * the month-to-date budgets from the {@link SpendLedger}. Built from catalog names and counters only: no key, no
 * URL, no header ever reaches it.
 */
public final class StatusBoard {

    private final Instant startedAt = Instant.now();
    private final Map<String, DeploymentStats> deployments = new ConcurrentHashMap<>();
    private final Map<String, DoubleAdder> spendByTier = new ConcurrentHashMap<>();
    private final LongAdder requests = new LongAdder();
    private final LongAdder fallbackEvents = new LongAdder();
    private final LongAdder tasksWithFallback = new LongAdder();
    private final DoubleAdder spend = new DoubleAdder();
    private volatile java.util.function.Supplier<ObjectNode> fleet;

    /** Adds the fleet's section ({@code "fleet"}): shared limits, keys by fingerprint. */
    public void showFleet(java.util.function.Supplier<ObjectNode> fleet) {
        this.fleet = fleet;
    }

    private volatile java.util.function.Supplier<ObjectNode> tenants;

    /** Adds the tenants' section ({@code "tenants"}) when the catalog has tenants: spend, reserved, limits. */
    public void showTenants(java.util.function.Supplier<ObjectNode> tenants) {
        this.tenants = tenants;
    }

    private volatile java.util.function.Supplier<com.fasterxml.jackson.databind.JsonNode> batches;

    /** Adds the open provider batches ({@code "batches"}): provider, size, age, state, tasks, expected saving. */
    public void showBatches(java.util.function.Supplier<com.fasterxml.jackson.databind.JsonNode> batches) {
        this.batches = batches;
    }

    static final class DeploymentStats {
        final LongAdder requests = new LongAdder();
        final Map<String, LongAdder> failures = new ConcurrentHashMap<>();
        final LongAdder fallbacksServed = new LongAdder();
        final LongAdder timedCalls = new LongAdder();
        final LongAdder latencyMs = new LongAdder();
        final DoubleAdder spend = new DoubleAdder();
    }

    /** {@code servedAsFallback}: the task's answer, from a deployment other than the first of its plan. */
    void attempt(Attempt a, boolean servedAsFallback, String tier) {
        DeploymentStats s = deployments.computeIfAbsent(a.deployment(), d -> new DeploymentStats());
        s.requests.increment();
        if (a.ok()) {
            if (servedAsFallback) {
                s.fallbacksServed.increment();
            }
        } else {
            s.failures.computeIfAbsent(a.outcome().wireName(), o -> new LongAdder()).increment();
        }
        if (!a.outcome().is(ErrorClass.CIRCUIT_OPEN)) {
            s.timedCalls.increment();
            s.latencyMs.add(a.latencyMs());
        }
        s.spend.add(a.costUsd());
        spend.add(a.costUsd());
        if (a.costUsd() != 0) {
            spendByTier.computeIfAbsent(tier == null ? TaskMetrics.NONE : tier, t -> new DoubleAdder()).add(a.costUsd());
        }
    }

    /** {@code fallbacks}: 1 when the task fell back (docs/routing-and-fallback.md, Fallback), else 0. */
    void task(int fallbacks) {
        requests.increment();
        fallbackEvents.add(fallbacks);
        if (fallbacks > 0) {
            tasksWithFallback.increment();
        }
    }

    public ObjectNode render(CatalogHolder catalogs, Breakers breakers, SpendLedger ledger) {
        Catalog catalog = catalogs.current();
        ObjectNode root = Json.object();
        root.put("started_at", startedAt.toString());
        ArrayNode list = root.putArray("deployments");
        for (DeploymentSpec d : catalog.deployments()) {
            DeploymentStats s = deployments.getOrDefault(d.id(), new DeploymentStats());
            ObjectNode n = list.addObject();
            n.put("deployment", d.id());
            n.put("group", d.group());
            n.put("provider", d.provider());
            n.put("provider_model", d.model());
            n.put("breaker", TaskMetrics.breakerName(TaskMetrics.breakerState(breakers.find(d.id()))));
            n.put("requests", s.requests.sum());
            ObjectNode failures = n.putObject("failures");
            new TreeMap<>(s.failures).forEach((k, v) -> failures.put(k, v.sum()));
            n.put("fallbacks_served", s.fallbacksServed.sum());
            long timed = s.timedCalls.sum();
            n.put("mean_latency_ms", timed == 0 ? 0.0 : round(s.latencyMs.sum() / (double) timed, 1));
            n.put("spend_usd", s.spend.sum());
        }
        ObjectNode totals = root.putObject("totals");
        long n = requests.sum();
        totals.put("requests", n);
        totals.put("fallback_events", fallbackEvents.sum());
        totals.put("tasks_with_fallback", tasksWithFallback.sum());
        totals.put("fallback_share", n == 0 ? 0.0 : round(tasksWithFallback.sum() / (double) n, 4));
        totals.put("spend_usd", spend.sum());
        ObjectNode byTier = totals.putObject("spend_by_tier_usd");
        new TreeMap<>(spendByTier).forEach((k, v) -> byTier.put(k, v.sum()));

        BudgetSpec budgets = catalog.budgets();
        ObjectNode month = root.putObject("month_to_date");
        month.put("month", SpendLedger.thisMonth().toString());
        month.put("ledger_rebuilt", ledger.rebuilt());
        month.put("spend_usd", ledger.totalSpend());
        ObjectNode tiers = month.putObject("spend_by_tier_usd");
        ledger.tierSpends().forEach(tiers::put);
        ObjectNode tenants = month.putObject("spend_by_tenant_usd");
        ledger.tenantSpends().forEach(tenants::put);
        // tenants past caravan.ledger.max-tenants: one figure, so the page stays bounded
        month.put("spend_other_tenants_usd", ledger.otherTenantsSpend());
        ObjectNode left = root.putObject("budgets");
        left.put("on_exceed", budgets.onExceed());
        ArrayNode scopes = left.putArray("scopes");
        budgets.tiers().forEach((tier, limit) -> scope(scopes, "tier:" + tier, limit, ledger.tierSpend(tier)));
        budgets.tenants().forEach((tenant, limit) -> scope(scopes, "tenant:" + tenant, limit, ledger.tenantSpend(tenant)));
        java.util.function.Supplier<ObjectNode> byTenant = this.tenants;
        if (byTenant != null && catalog.hasTenants()) {
            root.set("tenants", byTenant.get());
        }
        java.util.function.Supplier<com.fasterxml.jackson.databind.JsonNode> b = batches;
        if (b != null) {
            root.set("batches", b.get());
        }
        java.util.function.Supplier<ObjectNode> f = fleet;
        if (f != null) {
            root.set("fleet", f.get());
        }
        return root;
    }

    private static void scope(ArrayNode into, String scope, double limit, double spent) {
        ObjectNode n = into.addObject();
        n.put("scope", scope);
        n.put("limit_usd", limit);
        n.put("spent_usd", spent);
        n.put("remaining_usd", Math.max(0, limit - spent));
        n.put("exceeded", spent >= limit);
    }

    private static double round(double v, int places) {
        double f = Math.pow(10, places);
        return Math.round(v * f) / f;
    }
}
