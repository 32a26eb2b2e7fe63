package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.Caravan;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Budgets against the real broker: the usage topic is seeded with this month's (and last month's) spend before
 * Caravan starts, so the spend ledger has to rebuild it from Kafka.
 */
class BudgetTest {

    static String catalog(String onExceed) {
        return """
                providers:
                  sim: {api: simulated, latency: 0ms}
                models:
                  - {name: small, provider: sim, model: sim-small, price: {input: 1.00, output: 1.00}}
                  - {name: medium, provider: sim, model: sim-medium, price: {input: 2.00, output: 2.00}}
                  - {name: large, provider: sim, model: sim-large, price: {input: 10.00, output: 10.00}}
                tiers:
                  fast: {model: small, max_score: 3.0}
                  balanced: {model: medium, max_score: 6.5}
                  powerful: {model: large}
                default_tier: balanced
                budgets:
                  tiers: {powerful: 150, balanced: 1000, fast: 500}
                  tenants: {acme: 50}
                  on_exceed: %s
                """.formatted(onExceed);
    }

    static String topic() {
        return "budget-usage-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** This month: powerful 160 of 150 spent; balanced 1000 of 1000 spent; acme 60 of 50. Last month: more. */
    static void seedSpentBudgets(String usage) {
        UsageSeed.spend(usage, "old-1", "powerful", null, 100.0);
        UsageSeed.spend(usage, "old-2", "powerful", null, 60.0);
        UsageSeed.spend(usage, "old-3", "balanced", "acme", 60.0);
        UsageSeed.spend(usage, "old-4", "balanced", null, 940.0);
        Instant lastMonth = SpendLedger.thisMonth().minusMonths(1).atDay(15).atStartOfDay().toInstant(ZoneOffset.UTC);
        UsageSeed.send(usage, "last-month", UsageSeed.event("last-month", 1, lastMonth, "fast", "small", "small#0",
                "sim", "ok", 1, 0, 1, 499.0, false, null));
    }

    static JsonNode post(Caravan caravan, String body) throws Exception {
        HttpResponse<String> r = caravan.post("/v1/tasks", body);
        JsonNode json = Json.MAPPER.readTree(r.body());
        ((com.fasterxml.jackson.databind.node.ObjectNode) json).put("http_status", r.statusCode());
        return json;
    }

    @Test
    void downgradeMovesToTheNextCheaperTierWithBudgetLeft() throws Exception {
        String usage = topic();
        seedSpentBudgets(usage);
        try (Caravan caravan = Caravan.start(catalog("downgrade"), Map.of(), Map.of("caravan.topics.usage", usage))) {
            // powerful is spent, so is balanced: the task lands on fast
            JsonNode r = post(caravan, "{\"id\":\"b-1\",\"tier\":\"powerful\",\"prompt\":\"Plan the migration\"}");
            assertThat(r.path("http_status").asInt()).isEqualTo(200);
            assertThat(r.path("status").asText()).isEqualTo("ok");
            assertThat(r.path("tier").asText()).isEqualTo("fast");
            assertThat(r.path("model").asText()).isEqualTo("small");
            assertThat(r.path("routing_reason").asText()).isEqualTo(
                    "tier powerful requested; tier powerful budget spent (160.00 of 150.00 USD this month)"
                            + " -> downgraded to fast");

            // a tenant over its budget goes one tier down from what was chosen
            JsonNode t = post(caravan, "{\"id\":\"b-2\",\"tier\":\"fast\",\"prompt\":\"hi\","
                    + "\"metadata\":{\"tenant\":\"acme\"}}");
            assertThat(t.path("http_status").asInt()).isEqualTo(402);
            assertThat(t.path("error").path("type").asText()).isEqualTo("budget_exceeded");
            assertThat(t.path("error").path("message").asText()).contains("tenant acme budget spent (60.00 of 50.00");

            // last month's 499 USD on fast does not count
            JsonNode f = post(caravan, "{\"id\":\"b-3\",\"tier\":\"fast\",\"prompt\":\"hi\"}");
            assertThat(f.path("status").asText()).isEqualTo("ok");
            assertThat(f.path("routing_reason").asText()).isEqualTo("tier fast requested");

            JsonNode status = Json.MAPPER.readTree(caravan.get("/status").body());
            Map<String, JsonNode> scopes = new HashMap<>();
            status.path("budgets").path("scopes").forEach(s -> scopes.put(s.path("scope").asText(), s));
            assertThat(scopes.get("tier:powerful").path("remaining_usd").asDouble()).isEqualTo(0.0);
            assertThat(scopes.get("tier:powerful").path("exceeded").asBoolean()).isTrue();
            assertThat(scopes.get("tenant:acme").path("spent_usd").asDouble()).isEqualTo(60.0);
        }
    }

    @Test
    void rejectEndsTheTaskWithBudgetExceededAndNoProviderCall() throws Exception {
        String usage = topic();
        seedSpentBudgets(usage);
        try (Caravan caravan = Caravan.start(catalog("reject"), Map.of(), Map.of("caravan.topics.usage", usage))) {
            JsonNode r = post(caravan, "{\"id\":\"r-1\",\"tier\":\"powerful\",\"prompt\":\"Plan the migration\"}");
            assertThat(r.path("http_status").asInt()).isEqualTo(402);
            assertThat(r.path("status").asText()).isEqualTo("error");
            assertThat(r.path("error").path("type").asText()).isEqualTo("budget_exceeded");
            assertThat(r.path("error").path("message").asText())
                    .isEqualTo("tier powerful budget spent (160.00 of 150.00 USD this month)");
            assertThat(r.path("attempts")).isEmpty();
            assertThat(r.path("tier").asText()).isEqualTo("powerful");

            // from Kafka: an error result and a dead letter saying why
            io.caravan.support.TestKafka.send(caravan.tasksTopic, null,
                    "{\"id\":\"rk-1\",\"tier\":\"powerful\",\"prompt\":\"hi\"}".getBytes(), Map.of());
            JsonNode kafkaResult = await().atMost(Duration.ofSeconds(30)).until(() -> io.caravan.support.TestKafka
                    .read(caravan.resultsTopic, 1, Duration.ofSeconds(2)).stream()
                    .filter(rec -> "rk-1".equals(rec.key())).map(rec -> json(rec.value())).findFirst().orElse(null),
                    java.util.Objects::nonNull);
            assertThat(kafkaResult.path("error").path("type").asText()).isEqualTo("budget_exceeded");
            var dead = io.caravan.support.TestKafka.read(caravan.dlqTopic, 1, Duration.ofSeconds(20));
            assertThat(dead).hasSize(1);
            assertThat(new String(dead.get(0).headers().lastHeader("caravan-error-type").value()))
                    .isEqualTo("budget_exceeded");

            JsonNode ok = post(caravan, "{\"id\":\"r-2\",\"tier\":\"fast\",\"prompt\":\"hi\"}");
            assertThat(ok.path("http_status").asInt()).isEqualTo(200);

            PrometheusText m = new PrometheusText(caravan.get("/metrics").body());
            assertThat(m.value("caravan_requests_total", "tier", "powerful", "outcome", "budget_exceeded"))
                    .isEqualTo(2.0);
            assertThat(m.value("caravan_budget_remaining_usd", "scope", "tier:powerful")).isEqualTo(0.0);
            // the fast task's own spend comes back from the usage topic a moment later
            double fastCost = ok.path("usage").path("cost_usd").asDouble();
            assertThat(fastCost).isGreaterThan(0);
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(
                    new PrometheusText(caravan.get("/metrics").body())
                            .value("caravan_budget_remaining_usd", "scope", "tier:fast"))
                    .isCloseTo(500.0 - fastCost, within(1e-9)));
        }
    }

    @Test
    void aRestartedCaravanRebuildsTheSameRemainingBudget() throws Exception {
        String usage = topic();
        UsageSeed.spend(usage, "seed-1", "fast", "acme", 1.25);
        String catalog = catalog("downgrade");
        double remainingBefore;
        double acmeBefore;
        try (Caravan first = Caravan.start(catalog, Map.of(), Map.of("caravan.topics.usage", usage))) {
            double spent = 0;
            for (int i = 0; i < 3; i++) {
                JsonNode r = post(first, "{\"id\":\"rs-" + i + "\",\"tier\":\"fast\",\"prompt\":\"restart number "
                        + i + " with some words\",\"metadata\":{\"tenant\":\"acme\"}}");
                assertThat(r.path("status").asText()).isEqualTo("ok");
                spent += r.path("usage").path("cost_usd").asDouble();
            }
            assertThat(spent).isGreaterThan(0);
            double expected = 500 - 1.25 - spent;
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                    assertThat(remaining(first, "tier:fast")).isCloseTo(expected, within(1e-9)));
            remainingBefore = remaining(first, "tier:fast");
            acmeBefore = remaining(first, "tenant:acme");
        }
        try (Caravan second = Caravan.start(catalog, Map.of(), Map.of("caravan.topics.usage", usage))) {
            await().atMost(Duration.ofSeconds(20)).until(() -> second.get("/health/ready").statusCode() == 200);
            assertThat(remaining(second, "tier:fast")).isCloseTo(remainingBefore, within(1e-9));
            assertThat(remaining(second, "tenant:acme")).isCloseTo(acmeBefore, within(1e-9));
        }
    }

    static JsonNode json(byte[] bytes) {
        try {
            return Json.MAPPER.readTree(bytes);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static double remaining(Caravan caravan, String scope) throws Exception {
        JsonNode status = Json.MAPPER.readTree(caravan.get("/status").body());
        for (JsonNode s : status.path("budgets").path("scopes")) {
            if (s.path("scope").asText().equals(scope)) {
                return s.path("remaining_usd").asDouble();
            }
        }
        throw new AssertionError("no scope " + scope + " in " + status);
    }
}
