package io.caravan.resilience;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The resilience paths beyond plain failover: the circuit breaker opening and closing, waiting for cooling
 * deployments within the deadline, server waits that do not fit the deadline, context-window routing and
 * models that are gone. Every scenario has providers and groups of its own.
 */
class ResilienceTest {

    static WireMockServer upstream;
    static Caravan caravan;




    static final String RATE_LIMITED = Upstreams.error("Rate limit reached", "rate_limit_error", null);

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("rescue"))).willReturn(Upstreams.ok("rescued")));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("flaky"))).willReturn(Upstreams.status(503, Upstreams.error("down", "server_error", null))));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("cool"))).inScenario("cool").whenScenarioStateIs(STARTED)
                .willReturn(Upstreams.status(429, RATE_LIMITED).withHeader("Retry-After", "1")).willSetStateTo("rested"));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("cool"))).inScenario("cool").whenScenarioStateIs("rested")
                .willReturn(Upstreams.ok("after the wait")));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("long"))).willReturn(Upstreams.status(429, RATE_LIMITED).withHeader("Retry-After", "30")));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("longwait"))).willReturn(Upstreams.status(429, RATE_LIMITED).withHeader("Retry-After", "30")));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("ms"))).inScenario("ms").whenScenarioStateIs(STARTED)
                .willReturn(Upstreams.status(429, RATE_LIMITED).withHeader("retry-after-ms", "400")).willSetStateTo("go"));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("ms"))).inScenario("ms").whenScenarioStateIs("go").willReturn(Upstreams.ok("after 400ms")));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("small"))).willReturn(Upstreams.ok("small should not be called")));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("large"))).willReturn(Upstreams.ok("large took it")));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("other"))).willReturn(Upstreams.ok("the ordinary fallback")));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("cwp"))).willReturn(Upstreams.status(400, Upstreams.error(
                "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.",
                "invalid_request_error", "context_length_exceeded"))));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("gone"))).willReturn(Upstreams.status(404, Upstreams.error(
                "The model `gpt-9` does not exist", "invalid_request_error", "model_not_found"))));

        StringBuilder catalog = new StringBuilder("providers:\n");
        for (String name : List.of("rescue", "flaky", "cool", "long", "longwait", "ms", "small", "large", "other", "cwp", "gone")) {
            int retries = name.equals("ms") || name.equals("long") ? 2 : 0;
            catalog.append("  ").append(name).append(":\n")
                    .append("    api: openai\n")
                    .append("    base_url: http://127.0.0.1:").append(upstream.port()).append('/').append(name).append("/v1\n")
                    .append("    api_keys: [\"key-").append(name).append("\"]\n")
                    .append("    timeout: 2s\n    backoff: 50ms\n    retries: ").append(retries).append('\n');
        }
        catalog.append("""
                models:
                  - {name: rescue, provider: rescue, model: m}
                  - {name: cb, provider: flaky, model: m}
                  - {name: cool, provider: cool, model: m}
                  - {name: long, provider: long, model: m}
                  - {name: longwait, provider: longwait, model: m}
                  - {name: ms, provider: ms, model: m}
                  - {name: small, provider: small, model: m, context_window: 60}
                  - {name: large, provider: large, model: m, context_window: 100000}
                  - {name: other, provider: other, model: m}
                  - {name: cwp, provider: cwp, model: m, context_window: 8192}
                  - {name: mnf, provider: gone, model: gpt-9}
                fallbacks:
                  cb: [rescue]
                  long: [rescue]
                  small: [other]
                  cwp: [other]
                  mnf: [rescue]
                context_window_fallbacks:
                  small: [large]
                  cwp: [large]
                tiers:
                  balanced: {model: rescue}
                default_tier: balanced
                circuit_breaker: {failure_rate: 50, window: 4, minimum_calls: 2, open_for: 1s}
                """);
        caravan = Caravan.start(catalog.toString());
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
    }

    static JsonNode task(String body) throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks", body);
        JsonNode result = Json.MAPPER.readTree(response.body());
        assertThat(result.path("id").isMissingNode()).as(response.body()).isFalse();
        return result;
    }

    static List<String> outcomes(JsonNode result) {
        List<String> outcomes = new ArrayList<>();
        result.path("attempts").forEach(a -> outcomes.add(a.path("deployment").asText() + " " + a.path("outcome").asText()));
        return outcomes;
    }

    static int calls(String provider) {
        return upstream.findAll(postRequestedFor(urlEqualTo(Upstreams.path(provider)))).size();
    }

    @Test
    void theBreakerOpensSkipsTheDeploymentWithoutACallThenAHalfOpenProbeClosesIt() throws Exception {
        assertThat(outcomes(task("{\"model\":\"cb\",\"prompt\":\"one\"}"))).containsExactly("cb#0 server_error", "rescue#0 ok");
        assertThat(outcomes(task("{\"model\":\"cb\",\"prompt\":\"two\"}"))).containsExactly("cb#0 server_error", "rescue#0 ok");
        CircuitBreaker breaker = caravan.app().breakers().find("cb#0");
        assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.OPEN);

        JsonNode skipped = task("{\"model\":\"cb\",\"prompt\":\"three\"}");
        assertThat(outcomes(skipped)).containsExactly("cb#0 circuit_open", "rescue#0 ok");
        assertThat(skipped.path("attempts").get(0).path("status").isNull()).isTrue();
        assertThat(calls("flaky")).isEqualTo(2);

        upstream.stubFor(post(urlEqualTo(Upstreams.path("flaky"))).willReturn(Upstreams.ok("flaky is back")));
        Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> caravan.app().breakers().untilCallable("cb#0").isZero());
        JsonNode probe = task("{\"model\":\"cb\",\"prompt\":\"four\"}");
        assertThat(outcomes(probe)).containsExactly("cb#0 ok");
        assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    }

    @Test
    void whenEverythingIsCoolingDownTheTaskWaitsForItWithinItsDeadline() throws Exception {
        long start = System.nanoTime();
        JsonNode result = task("{\"model\":\"cool\",\"prompt\":\"patience\",\"timeout_ms\":10000}");
        long elapsedMs = (System.nanoTime() - start) / 1_000_000;
        assertThat(result.path("status").asText()).isEqualTo("ok");
        assertThat(outcomes(result)).containsExactly("cool#0 rate_limited", "cool#0 ok");
        assertThat(elapsedMs).isGreaterThanOrEqualTo(800);
        List<LoggedRequest> requests = upstream.findAll(postRequestedFor(urlEqualTo(Upstreams.path("cool"))));
        long gap = requests.get(1).getLoggedDate().getTime() - requests.get(0).getLoggedDate().getTime();
        assertThat(gap).isGreaterThanOrEqualTo(800);
    }

    @Test
    void whenTheCooldownDoesNotFitTheDeadlineTheTaskIsExhaustedAtOnce() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks", "{\"model\":\"longwait\",\"prompt\":\"hurry\",\"timeout_ms\":3000}");
        JsonNode result = Json.MAPPER.readTree(response.body());
        // exhausted, not timed out: it did not sit out the deadline waiting for the cooldown
        assertThat(response.statusCode()).isEqualTo(503);
        assertThat(result.path("error").path("type").asText()).isEqualTo("exhausted");
        assertThat(result.path("error").path("message").asText()).contains("longwait#0 rate_limited");
    }

    @Test
    void aServerWaitLongerThanTheDeadlineFallsOverImmediately() throws Exception {
        JsonNode result = task("{\"model\":\"long\",\"prompt\":\"no time\",\"timeout_ms\":5000}");
        // answered by the fallback within the deadline, the long deployment called once: the wait was not taken
        assertThat(result.path("status").asText()).isEqualTo("ok");
        assertThat(outcomes(result)).containsExactly("long#0 rate_limited", "rescue#0 ok");
        assertThat(calls("long")).isEqualTo(1);
    }

    @Test
    void retryAfterMsIsHonouredOnTheSameDeployment() throws Exception {
        JsonNode result = task("{\"model\":\"ms\",\"prompt\":\"soon\"}");
        assertThat(outcomes(result)).containsExactly("ms#0 rate_limited", "ms#0 ok");
        List<LoggedRequest> requests = upstream.findAll(postRequestedFor(urlEqualTo(Upstreams.path("ms"))));
        long gap = requests.get(1).getLoggedDate().getTime() - requests.get(0).getLoggedDate().getTime();
        assertThat(gap).isGreaterThanOrEqualTo(350);
    }

    @Test
    void aPromptTooLongForTheContextWindowSkipsTheDeploymentAndUsesOnlyTheContextWindowFallbacks() throws Exception {
        String prompt = "word ".repeat(200);
        JsonNode result = task("{\"model\":\"small\",\"prompt\":\"" + prompt + "\"}");
        assertThat(outcomes(result)).containsExactly("small#0 context_window", "large#0 ok");
        assertThat(result.path("attempts").get(0).path("status").isNull()).isTrue();
        assertThat(calls("small")).isZero();
        assertThat(calls("other")).isZero();
    }

    @Test
    void aContextLengthErrorFromTheProviderFollowsTheContextWindowFallbacks() throws Exception {
        JsonNode result = task("{\"model\":\"cwp\",\"prompt\":\"a long document\"}");
        assertThat(outcomes(result)).containsExactly("cwp#0 context_window", "large#0 ok");
        assertThat(result.path("attempts").get(0).path("status").asInt()).isEqualTo(400);
    }

    @Test
    void aModelThatIsGoneMovesOnAndIsLeftAloneAfterwards() throws Exception {
        assertThat(outcomes(task("{\"model\":\"mnf\",\"prompt\":\"first\"}")))
                .containsExactly("mnf#0 model_not_found", "rescue#0 ok");
        assertThat(outcomes(task("{\"model\":\"mnf\",\"prompt\":\"second\"}")))
                .containsExactly("mnf#0 circuit_open", "rescue#0 ok");
        assertThat(calls("gone")).isEqualTo(1);
    }
}
