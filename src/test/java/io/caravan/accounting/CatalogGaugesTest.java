package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogHolder;
import io.caravan.catalog.CatalogLoader;
import io.caravan.operations.StatusBoard;
import io.caravan.operations.TaskMetrics;
import io.caravan.resilience.Breakers;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The breaker and budget gauges follow a reloaded catalog: new deployments appear, removed ones go, limits move. */
class CatalogGaugesTest {

    @TempDir
    Path dir;

    Catalog catalog(String models, String budgets) throws Exception {
        Path file = dir.resolve("catalog-" + System.nanoTime() + ".yaml");
        Files.writeString(file, """
                providers:
                  sim: {api: simulated}
                models:
                %s
                tiers:
                  fast: {model: first}
                budgets:
                %s
                """.formatted(models, budgets));
        return CatalogLoader.load(file);
    }

    @Test
    void gaugesFollowTheCatalogInForce() throws Exception {
        PrometheusMeterRegistry registry = TaskMetrics.newRegistry();
        TaskMetrics metrics = new TaskMetrics(registry, new StatusBoard());
        CatalogHolder catalogs = new CatalogHolder(catalog(
                "  - {name: first, provider: sim, model: a}\n  - {name: dropped, provider: sim, model: b}",
                "  tiers: {fast: 10}\n  tenants: {acme: 5}"));
        metrics.followCatalog(catalogs, new Breakers(), new SpendLedger(null, "llm.usage"));
        assertThat(gauge(registry, "deployment", "first#0")).isEqualTo(0.0);
        assertThat(gauge(registry, "deployment", "dropped#0")).isEqualTo(0.0);
        assertThat(budget(registry, "tier:fast")).isEqualTo(10.0);

        catalogs.swap(catalog(
                "  - {name: first, provider: sim, model: a}\n  - {name: added, provider: sim, model: c}",
                "  tiers: {fast: 25}"));

        assertThat(gauge(registry, "deployment", "added#0")).isEqualTo(0.0);
        assertThat(registry.find("caravan.circuit.state").tag("deployment", "dropped#0").gauge()).isNull();
        assertThat(budget(registry, "tier:fast")).isEqualTo(25.0);
        assertThat(registry.find("caravan.budget.remaining.usd").tag("scope", "tenant:acme").gauge()).isNull();
        assertThat(registry.find("caravan.circuit.state").gauges()).hasSize(2);
    }

    static Double gauge(PrometheusMeterRegistry registry, String label, String value) {
        Gauge gauge = registry.find("caravan.circuit.state").tag(label, value).gauge();
        return gauge == null ? null : gauge.value();
    }

    static Double budget(PrometheusMeterRegistry registry, String scope) {
        Gauge gauge = registry.find("caravan.budget.remaining.usd").tag("scope", scope).gauge();
        return gauge == null ? null : gauge.value();
    }
}
