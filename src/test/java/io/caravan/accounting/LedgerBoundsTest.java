package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The spend ledger against forged usage records published straight to the usage topic: impossible events do not
 * move a budget and are counted; tenants are bounded in name length and in number; the reader survives a fault.
 */
class LedgerBoundsTest {

    static final String CATALOG = """
            providers:
              sim: {api: simulated, latency: 0ms}
            models:
              - {name: small, provider: sim, model: sim-small, price: {input: 1.00, output: 1.00}}
            tiers:
              fast: {model: small}
            default_tier: fast
            budgets:
              tiers: {fast: 500}
              tenants: {acme: 50, zeta: 5}
              on_exceed: reject
            """;

    static String event(String id, double cost, String tenant) {
        return UsageSeed.event(id, 1, Instant.now(), "fast", "small", "small#0", "sim", "ok", 10, 0, 10, cost, false,
                tenant);
    }

    static PrometheusText metrics(Caravan caravan) throws Exception {
        return new PrometheusText(caravan.get("/metrics").body());
    }

    static double rejected(Caravan caravan, String reason) throws Exception {
        Double v = metrics(caravan).value("caravan_usage_events_rejected_total", "reason", reason);
        return v == null ? -1 : v;
    }

    static double remaining(Caravan caravan, String scope) throws Exception {
        return BudgetTest.remaining(caravan, scope);
    }

    @Test
    void forgedUsageEventsDoNotMoveBudgetsAndAreCounted() throws Exception {
        String usage = BudgetTest.topic();
        UsageSeed.send(usage, "seed", event("seed", 1.0, "acme"));
        try (Caravan caravan = Caravan.start(CATALOG, Map.of(), Map.of("caravan.topics.usage", usage))) {
            await().atMost(Duration.ofSeconds(20)).until(() -> caravan.get("/health/ready").statusCode() == 200);
            assertThat(remaining(caravan, "tier:fast")).isCloseTo(499.0, within(1e-9));

            String valid = event("forged", 1.0, "acme");
            // a forged "NaN" cost once disabled a budget for the month (NaN >= limit is false)
            UsageSeed.send(usage, "f1", valid.replace("\"cost_usd\":1.0", "\"cost_usd\":\"NaN\""));
            UsageSeed.send(usage, "f2", valid.replace("\"cost_usd\":1.0", "\"cost_usd\":NaN"));
            UsageSeed.send(usage, "f3", valid.replace("\"cost_usd\":1.0", "\"cost_usd\":1e400"));
            UsageSeed.send(usage, "f4", valid.replace("\"cost_usd\":1.0", "\"cost_usd\":-400.0"));
            UsageSeed.send(usage, "f5", valid.replace("\"input_tokens\":10", "\"input_tokens\":-10"));
            UsageSeed.send(usage, "f6", valid.replace("\"cost_usd\":1.0", "\"cost_usd\":1.0e12"));
            UsageSeed.send(usage, "f7", valid.replace("\"output_tokens\":10", "\"output_tokens\":\"lots\""));
            UsageSeed.send(usage, "f8", event("f8", 1.0, "h".repeat(900 * 1024)));
            UsageSeed.send(usage, "f9", "not json at all");

            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                assertThat(rejected(caravan, "non_numeric")).isEqualTo(2.0);
                assertThat(rejected(caravan, "not_json")).isEqualTo(2.0);
                assertThat(rejected(caravan, "not_finite")).isEqualTo(1.0);
                assertThat(rejected(caravan, "negative")).isEqualTo(2.0);
                assertThat(rejected(caravan, "absurd")).isEqualTo(1.0);
                assertThat(rejected(caravan, "tenant_too_long")).isEqualTo(1.0);
            });
            assertThat(remaining(caravan, "tier:fast")).isCloseTo(499.0, within(1e-9));
            assertThat(remaining(caravan, "tenant:acme")).isCloseTo(49.0, within(1e-9));
            HttpResponse<String> status = caravan.get("/status");
            assertThat(status.statusCode()).isEqualTo(200);
            assertThat(status.body().length()).isLessThan(16 * 1024);

            // a real event after them still counts: the reader went on
            UsageSeed.send(usage, "real", event("real", 2.0, "acme"));
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                    assertThat(remaining(caravan, "tenant:acme")).isCloseTo(47.0, within(1e-9)));
        }
    }

    @Test
    void tenantsPastTheCapAreSummedAsOtherTenantsAndBudgetedOnesAreAlwaysTracked() throws Exception {
        String usage = BudgetTest.topic();
        TestKafka.createTopic(usage, 1); // one partition: the events are read in the order sent
        UsageSeed.send(usage, "seed", event("seed", 1.0, "acme"));
        for (int i = 1; i <= 5; i++) {
            UsageSeed.send(usage, "t" + i, event("t" + i, 1.0, "tenant-" + i));
        }
        UsageSeed.send(usage, "z", event("z", 6.0, "zeta"));
        try (Caravan caravan = Caravan.start(CATALOG, Map.of(),
                Map.of("caravan.topics.usage", usage, "caravan.ledger.max-tenants", "3"))) {
            await().atMost(Duration.ofSeconds(20)).until(() -> caravan.get("/health/ready").statusCode() == 200);
            JsonNode month = Json.MAPPER.readTree(caravan.get("/status").body()).path("month_to_date");
            assertThat(month.path("spend_by_tenant_usd").fieldNames()).toIterable()
                    .containsExactlyInAnyOrder("acme", "tenant-1", "tenant-2", "zeta");
            assertThat(month.path("spend_other_tenants_usd").asDouble()).isCloseTo(3.0, within(1e-9));
            assertThat(month.path("spend_usd").asDouble()).isCloseTo(12.0, within(1e-9));
            assertThat(metrics(caravan).value("caravan_usage_events_untracked_tenant_total")).isEqualTo(3.0);

            // zeta, budgeted, was tracked past the cap: its spent budget is enforced
            HttpResponse<String> r = caravan.post("/v1/tasks",
                    "{\"id\":\"z-1\",\"prompt\":\"hi\",\"metadata\":{\"tenant\":\"zeta\"}}");
            assertThat(r.statusCode()).isEqualTo(402);
            assertThat(r.body()).contains("tenant zeta budget spent");
        }
    }

    @Test
    void theReaderRestartsAfterAFaultAndBudgetsKeepUpdating() throws Exception {
        String usage = BudgetTest.topic();
        UsageSeed.send(usage, "seed", event("seed", 1.0, "acme"));
        try (Caravan caravan = Caravan.start(CATALOG, Map.of(), Map.of("caravan.topics.usage", usage,
                "caravan.ledger.restart-backoff", "1500ms", "caravan.ledger.restart-grace", "0s"))) {
            await().atMost(Duration.ofSeconds(20)).until(() -> caravan.get("/health/ready").statusCode() == 200);
            SpendLedger ledger = caravan.app().operations().ledger();
            int restarts = 0;
            double acmeLeft = 49.0;
            for (Throwable poison : new Throwable[] {new IllegalStateException("poison"),
                    new NoClassDefFoundError("poison/Missing")}) {
                ledger.failOnce(poison);
                restarts++;
                int expected = restarts;
                // while it waits out its backoff, readiness says so
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                    HttpResponse<String> ready = caravan.get("/health/ready");
                    assertThat(ready.statusCode()).isEqualTo(503);
                    assertThat(Json.MAPPER.readTree(ready.body()).path("checks").path("spend_ledger").asText())
                            .startsWith("DOWN: reader down").contains("poison");
                });
                await().atMost(Duration.ofSeconds(20)).until(() -> caravan.get("/health/ready").statusCode() == 200);
                assertThat(metrics(caravan).value("caravan_spend_ledger_restarts_total")).isEqualTo((double) expected);
                // nothing read twice by the new reader, and new spend still arrives
                assertThat(remaining(caravan, "tenant:acme")).isCloseTo(acmeLeft, within(1e-9));
                UsageSeed.send(usage, "after-" + restarts, event("after-" + restarts, 2.0, "acme"));
                acmeLeft -= 2.0;
                double left = acmeLeft;
                await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                        assertThat(remaining(caravan, "tenant:acme")).isCloseTo(left, within(1e-9)));
            }
        }
    }
}
