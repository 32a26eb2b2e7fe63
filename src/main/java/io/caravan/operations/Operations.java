package io.caravan.operations;

import io.caravan.Setting;
import io.caravan.Settings;
import io.caravan.accounting.BudgetGuard;
import io.caravan.accounting.SpendLedger;
import io.caravan.catalog.CatalogHolder;
import io.caravan.resilience.Breakers;
import io.caravan.tracing.TaskTracing;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.camel.component.micrometer.MicrometerConstants;
import org.apache.camel.component.micrometer.routepolicy.MicrometerRoutePolicyConfiguration;
import org.apache.camel.component.micrometer.routepolicy.MicrometerRoutePolicyFactory;
import org.apache.camel.main.Main;

/**
 * Wires accounting and operations into a Caravan: one Prometheus registry (also Camel's route metrics, through
 * the Micrometer route policy factory), the spend ledger reading the usage topic, the budget guard, the status
 * board and the health checks, bound under the names the YAML routes use.
 */
public final class Operations implements AutoCloseable {

    private final PrometheusMeterRegistry registry = TaskMetrics.newRegistry();
    private final StatusBoard board = new StatusBoard();
    private final TaskMetrics metrics = new TaskMetrics(registry, board);
    private final SpendLedger ledger;
    private final Health health;
    private final BudgetGuard guard;
    private final OperationsEndpoints endpoints;
    private final TaskTracing tracing;

    public Operations(Settings settings, CatalogHolder catalogs, Breakers breakers, String bootstrapServers) {
        this.ledger = new SpendLedger(bootstrapServers, settings.get(Setting.TOPICS_USAGE))
                .bounded(settings.get(Setting.TENANT_MAX_CHARS), settings.get(Setting.LEDGER_MAX_TENANTS),
                        () -> catalogs.current().budgets().tenants().keySet())
                .restarting(settings.get(Setting.LEDGER_RESTART_BACKOFF), settings.get(Setting.LEDGER_RESTART_BACKOFF_MAX),
                        settings.get(Setting.LEDGER_RESTART_GRACE));
        this.tracing = TaskTracing.from(settings, registry);
        this.health = new Health(catalogs, ledger, bootstrapServers);
        this.guard = new BudgetGuard(ledger, settings.get(Setting.BUDGETS_REBUILD_WAIT));
        this.endpoints = new OperationsEndpoints(metrics, board, health, catalogs, breakers, ledger);
        metrics.followCatalog(catalogs, breakers, ledger);
        metrics.followLedger(ledger);
    }

    public void bind(Main main) {
        main.bind(MicrometerConstants.METRICS_REGISTRY_NAME, registry);
        MicrometerRoutePolicyFactory routeMetrics = new MicrometerRoutePolicyFactory();
        routeMetrics.setMeterRegistry(registry);
        // Camel times a task where it enters and as a whole; its inner steps (tier router, dispatch, the
        // deployments' routes, usage emission) run for every task and are covered by Caravan's own metrics per
        // deployment and outcome, so timing each of them again would only cost CPU on the hot path
        MicrometerRoutePolicyConfiguration scope = new MicrometerRoutePolicyConfiguration();
        scope.setExcludePattern("deployment-*,attempt-*,tier-router,dispatch,cooldown-wait,emit-usage,kafka-outlets");
        routeMetrics.setPolicyConfiguration(scope);
        main.bind("caravanRouteMetrics", routeMetrics);
        main.bind("taskMetrics", metrics);
        main.bind("budgetGuard", guard);
        main.bind("operations", endpoints);
        main.bind("taskTracing", tracing);
    }

    /** Starts reading the usage topic on one thread of {@code threads} (the rebuild runs in the background). */
    public void start(java.util.concurrent.ExecutorService threads) {
        ledger.start(threads);
    }

    public Health health() {
        return health;
    }

    public SpendLedger ledger() {
        return ledger;
    }

    public StatusBoard board() {
        return board;
    }

    public TaskTracing tracing() {
        return tracing;
    }

    public TaskMetrics metrics() {
        return metrics;
    }

    @Override
    public void close() {
        ledger.close();
        health.close();
        tracing.close();
    }
}
