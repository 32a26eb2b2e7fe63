package io.caravan.accounting;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A known sequence of tasks against two mock providers (one of them failing over to the other), then the exact
 * values of /metrics and /status. Also: the health checks, and no key anywhere in what operators can read.
 */
class MetricsAndStatusTest {

    static final String ALPHA_KEY = "sk-alpha-metrics-secret-0001";
    static final String BETA_KEY = "sk-beta-metrics-secret-0002";
    static WireMockServer upstream;
    static Caravan caravan;
    static final Map<String, JsonNode> results = new HashMap<>();

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/alpha/v1/chat/completions")).atPriority(5)
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("alpha says hi", 1000, 0, 500))));
        upstream.stubFor(post(urlEqualTo("/alpha/v1/chat/completions")).atPriority(1)
                .withRequestBody(containing("ALPHA-BAD"))
                .willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("Invalid request: broken", "invalid_request_error", null))));
        upstream.stubFor(post(urlEqualTo("/beta/v1/chat/completions")).atPriority(5)
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("beta says hi", 2000, 200, 1000))));
        upstream.stubFor(post(urlEqualTo("/beta/v1/chat/completions")).atPriority(1)
                .withRequestBody(containing("BETA-DOWN"))
                .willReturn(aResponse().withStatus(503).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("overloaded", "server_error", null))));
        String catalog = """
                providers:
                  alpha:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/alpha/v1
                    api_keys: ["${ALPHA_KEY}"]
                    retries: 0
                  beta:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/beta/v1
                    api_keys: ["${BETA_KEY}"]
                    retries: 0
                models:
                  - {name: cheap, provider: alpha, model: alpha-small, price: {input: 1.00, output: 2.00}}
                  - {name: big, provider: beta, model: beta-large, price: {input: 3.00, output: 6.00}}
                fallbacks:
                  big: [cheap]
                tiers:
                  fast: {model: cheap, max_score: 3.0}
                  powerful: {model: big}
                default_tier: fast
                budgets:
                  tiers: {powerful: 100}
                  tenants: {acme: 50}
                  on_exceed: downgrade
                """.formatted(upstream.port());
        caravan = Caravan.start(catalog, Map.of("ALPHA_KEY", ALPHA_KEY, "BETA_KEY", BETA_KEY), Map.of());

        task("m-1", "fast", "hello one", "acme");
        task("m-2", "fast", "hello two", null);
        task("m-3", "powerful", "BETA-DOWN please", "acme");
        task("m-4", "powerful", "hello four", null);
        task("m-5", "fast", "ALPHA-BAD request", null);
    }

    static void task(String id, String tier, String prompt, String tenant) throws Exception {
        String metadata = tenant == null ? "{}" : "{\"tenant\":\"" + tenant + "\"}";
        HttpResponse<String> r = caravan.post("/v1/tasks", """
                {"id":"%s","tier":"%s","prompt":"%s","metadata":%s}""".formatted(id, tier, prompt, metadata));
        results.put(id, Json.MAPPER.readTree(r.body()));
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
    }

    @Test
    void theSequenceWentAsPlanned() {
        assertThat(results.get("m-3").path("fallback").asBoolean()).isTrue();
        assertThat(results.get("m-3").path("provider").asText()).isEqualTo("alpha");
        assertThat(results.get("m-4").path("provider").asText()).isEqualTo("beta");
        assertThat(results.get("m-5").path("error").path("type").asText()).isEqualTo("bad_request");
    }

    @Test
    void metricsCountEveryTaskAttemptFallbackTokenAndCent() throws Exception {
        HttpResponse<String> r = caravan.get("/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain");
        PrometheusText m = new PrometheusText(r.body());

        assertThat(m.value("caravan_requests_total", "tier", "fast", "model", "cheap", "provider", "alpha",
                "outcome", "ok")).isEqualTo(2.0);
        assertThat(m.value("caravan_requests_total", "tier", "powerful", "model", "cheap", "provider", "alpha",
                "outcome", "ok")).isEqualTo(1.0);
        assertThat(m.value("caravan_requests_total", "tier", "powerful", "model", "big", "provider", "beta",
                "outcome", "ok")).isEqualTo(1.0);
        assertThat(m.value("caravan_requests_total", "tier", "fast", "model", "cheap", "provider", "none",
                "outcome", "bad_request")).isEqualTo(1.0);
        assertThat(m.sum("caravan_requests_total")).isEqualTo(5.0);

        assertThat(m.value("caravan_fallbacks_total", "from", "big#0", "to", "cheap#0")).isEqualTo(1.0);
        assertThat(m.sum("caravan_fallbacks_total")).isEqualTo(1.0);

        assertThat(m.value("caravan_attempt_seconds_count", "provider", "alpha", "deployment", "cheap#0",
                "outcome", "ok")).isEqualTo(3.0);
        assertThat(m.value("caravan_attempt_seconds_count", "provider", "alpha", "deployment", "cheap#0",
                "outcome", "bad_request")).isEqualTo(1.0);
        assertThat(m.value("caravan_attempt_seconds_count", "provider", "beta", "deployment", "big#0",
                "outcome", "server_error")).isEqualTo(1.0);
        assertThat(m.value("caravan_attempt_seconds_count", "provider", "beta", "deployment", "big#0",
                "outcome", "ok")).isEqualTo(1.0);
        assertThat(m.value("caravan_attempt_seconds_bucket", "provider", "beta", "deployment", "big#0",
                "outcome", "ok", "le", "+Inf")).isEqualTo(1.0);

        assertThat(m.value("caravan_tokens_total", "provider", "alpha", "model", "cheap", "kind", "input"))
                .isEqualTo(3000.0);
        assertThat(m.value("caravan_tokens_total", "provider", "alpha", "model", "cheap", "kind", "output"))
                .isEqualTo(1500.0);
        assertThat(m.value("caravan_tokens_total", "provider", "alpha", "model", "cheap", "kind", "cached_input"))
                .isEqualTo(0.0);
        assertThat(m.value("caravan_tokens_total", "provider", "beta", "model", "big", "kind", "input"))
                .isEqualTo(2000.0);
        assertThat(m.value("caravan_tokens_total", "provider", "beta", "model", "big", "kind", "cached_input"))
                .isEqualTo(200.0);
        assertThat(m.value("caravan_tokens_total", "provider", "beta", "model", "big", "kind", "output"))
                .isEqualTo(1000.0);

        // (1000 x 1.00 + 500 x 2.00) / 1M per alpha answer; (2000 x 3.00 + 1000 x 6.00) / 1M for beta's
        assertThat(m.value("caravan_cost_usd_total", "tier", "fast", "model", "cheap", "provider", "alpha"))
                .isCloseTo(0.004, within(1e-12));
        assertThat(m.value("caravan_cost_usd_total", "tier", "powerful", "model", "cheap", "provider", "alpha"))
                .isCloseTo(0.002, within(1e-12));
        assertThat(m.value("caravan_cost_usd_total", "tier", "powerful", "model", "big", "provider", "beta"))
                .isCloseTo(0.012, within(1e-12));

        assertThat(m.value("caravan_circuit_state", "deployment", "cheap#0")).isEqualTo(0.0);
        assertThat(m.value("caravan_circuit_state", "deployment", "big#0")).isEqualTo(0.0);

        // Camel's own route metrics share the registry
        assertThat(m.all()).anyMatch(s -> s.name().startsWith("camel_") && "task".equals(s.labels().get("routeId")));
    }

    @Test
    void budgetGaugesFollowTheUsageTopic() {
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            PrometheusText m = new PrometheusText(caravan.get("/metrics").body());
            assertThat(m.value("caravan_budget_remaining_usd", "scope", "tier:powerful"))
                    .isCloseTo(100 - 0.014, within(1e-9));
            assertThat(m.value("caravan_budget_remaining_usd", "scope", "tenant:acme"))
                    .isCloseTo(50 - 0.004, within(1e-9));
        });
    }

    @Test
    void statusShowsDeploymentsTotalsAndBudgets() {
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode status = Json.MAPPER.readTree(caravan.get("/status").body());
            assertThat(status.path("month_to_date").path("spend_by_tier_usd").path("powerful").asDouble())
                    .isCloseTo(0.014, within(1e-12));
            assertThat(status.path("month_to_date").path("spend_by_tenant_usd").path("acme").asDouble())
                    .isCloseTo(0.004, within(1e-12));
        });
        HttpResponse<String> r = Unchecked.get("/status");
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode status = Unchecked.json(r.body());
        Map<String, JsonNode> byId = new HashMap<>();
        status.path("deployments").forEach(d -> byId.put(d.path("deployment").asText(), d));
        assertThat(byId.keySet()).containsExactlyInAnyOrder("cheap#0", "big#0");

        JsonNode cheap = byId.get("cheap#0");
        assertThat(cheap.path("provider").asText()).isEqualTo("alpha");
        assertThat(cheap.path("provider_model").asText()).isEqualTo("alpha-small");
        assertThat(cheap.path("breaker").asText()).isEqualTo("closed");
        assertThat(cheap.path("requests").asLong()).isEqualTo(4);
        assertThat(cheap.path("failures").size()).isEqualTo(1);
        assertThat(cheap.path("failures").path("bad_request").asLong()).isEqualTo(1);
        assertThat(cheap.path("fallbacks_served").asLong()).isEqualTo(1);
        assertThat(cheap.path("mean_latency_ms").asDouble()).isGreaterThanOrEqualTo(0.0);
        assertThat(cheap.path("spend_usd").asDouble()).isCloseTo(0.006, within(1e-12));

        JsonNode big = byId.get("big#0");
        assertThat(big.path("provider").asText()).isEqualTo("beta");
        assertThat(big.path("requests").asLong()).isEqualTo(2);
        assertThat(big.path("failures").path("server_error").asLong()).isEqualTo(1);
        assertThat(big.path("fallbacks_served").asLong()).isEqualTo(0);
        assertThat(big.path("spend_usd").asDouble()).isCloseTo(0.012, within(1e-12));

        JsonNode totals = status.path("totals");
        assertThat(totals.path("requests").asLong()).isEqualTo(5);
        assertThat(totals.path("fallback_events").asLong()).isEqualTo(1);
        assertThat(totals.path("tasks_with_fallback").asLong()).isEqualTo(1);
        assertThat(totals.path("fallback_share").asDouble()).isEqualTo(0.2);
        assertThat(totals.path("spend_usd").asDouble()).isCloseTo(0.018, within(1e-12));
        assertThat(totals.path("spend_by_tier_usd").path("fast").asDouble()).isCloseTo(0.004, within(1e-12));
        assertThat(totals.path("spend_by_tier_usd").path("powerful").asDouble()).isCloseTo(0.014, within(1e-12));

        Map<String, JsonNode> scopes = new HashMap<>();
        status.path("budgets").path("scopes").forEach(s -> scopes.put(s.path("scope").asText(), s));
        assertThat(status.path("budgets").path("on_exceed").asText()).isEqualTo("downgrade");
        assertThat(scopes.get("tier:powerful").path("limit_usd").asDouble()).isEqualTo(100.0);
        assertThat(scopes.get("tier:powerful").path("remaining_usd").asDouble()).isCloseTo(99.986, within(1e-9));
        assertThat(scopes.get("tenant:acme").path("spent_usd").asDouble()).isCloseTo(0.004, within(1e-12));
    }

    @Test
    void healthIsLiveAndReady() throws Exception {
        assertThat(caravan.get("/health/live").statusCode()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            HttpResponse<String> ready = caravan.get("/health/ready");
            assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
            assertThat(Json.MAPPER.readTree(ready.body()).path("checks").path("kafka").asText()).isEqualTo("UP");
        });
    }

    @Test
    void noKeyInStatusOrMetrics() throws Exception {
        for (String path : new String[] {"/status", "/metrics", "/health/ready"}) {
            String body = caravan.get(path).body();
            assertThat(body).doesNotContain(ALPHA_KEY).doesNotContain(BETA_KEY).doesNotContain("sk-alpha")
                    .doesNotContain("sk-beta");
        }
    }

    /** GET without checked exceptions, for use inside assertions. */
    static final class Unchecked {
        static HttpResponse<String> get(String path) {
            try {
                return caravan.get(path);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        static JsonNode json(String body) {
            try {
                return Json.MAPPER.readTree(body);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
