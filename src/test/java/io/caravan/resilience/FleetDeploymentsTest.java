package io.caravan.resilience;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.FleetRig;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two Caravans in one consumer group share what they learn of deployments through the usage topic: a peer's
 * {@code model_not_found} takes the deployment out of this instance's plans, and a peer's failing calls count in
 * this instance's breaker, so it opens without this instance paying for the same failures.
 */
class FleetDeploymentsTest {

    static WireMockServer upstream;

    @BeforeAll
    static void start() {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("gone"))).willReturn(Upstreams.status(404,
                Upstreams.error("The model `retired-1` does not exist", "invalid_request_error", "model_not_found"))));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("broken"))).willReturn(Upstreams.status(500,
                Upstreams.error("internal error", "server_error", null))));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("good"))).willReturn(Upstreams.ok("fine")));
    }

    @AfterAll
    static void stop() {
        upstream.stop();
    }

    static String provider(String name) {
        return """
                  %1$s:
                    api: openai
                    base_url: http://127.0.0.1:%2$d/%1$s/v1
                    api_keys: ["sk-%1$s-0123456789"]
                    timeout: 5s
                    retries: 0
                """.formatted(name, upstream.port());
    }

    static final String CATALOG_TAIL = """
            models:
              - {name: retired, provider: gone, model: retired-1, price: {input: 1, output: 1}}
              - {name: shaky, provider: broken, model: shaky-1, price: {input: 1, output: 1}}
              - {name: steady, provider: good, model: steady-1, price: {input: 1, output: 1}}
            tiers:
              balanced: {model: steady}
            fallbacks:
              retired: [steady]
              shaky: [steady]
            circuit_breaker: {failure_rate: 50, window: 10, minimum_calls: 4, open_for: 60s}
            """;

    static JsonNode task(Caravan c, String model) throws Exception {
        return Json.MAPPER.readTree(c.post("/v1/tasks", "{\"model\":\"" + model + "\",\"prompt\":\"hello\"}").body());
    }

    static CircuitBreaker.State breaker(Caravan c, String deployment) {
        CircuitBreaker b = c.app().breakers().find(deployment);
        return b == null ? null : b.getState();
    }

    @Test
    void aModelOnePeerFindsGoneAndFailuresOnePeerMeetsOpenTheOthersBreakers() throws Exception {
        String catalog = "providers:\n" + provider("gone") + provider("broken") + provider("good") + CATALOG_TAIL;
        try (FleetRig rig = new FleetRig(2, 2, catalog, Map.of())) {
            FleetTest.awaitFleetOf(rig, 2);
            Caravan a = rig.instances.get(0);
            Caravan b = rig.instances.get(1);

            // a meets the 404: b takes the deployment out too, and answers without calling it
            assertThat(task(a, "retired").path("attempts").get(0).path("outcome").asText()).isEqualTo("model_not_found");
            await().atMost(Duration.ofSeconds(5)).until(() -> breaker(b, "retired#0") == CircuitBreaker.State.OPEN);
            JsonNode skipped = task(b, "retired");
            assertThat(skipped.path("status").asText()).isEqualTo("ok");
            assertThat(skipped.path("attempts").get(0).path("outcome").asText()).isEqualTo("circuit_open");
            upstream.verify(1, postRequestedFor(urlEqualTo(Upstreams.path("gone"))));

            // a's failing calls open b's breaker although b made none; a's answers elsewhere do not touch it
            for (int i = 0; i < 4; i++) {
                assertThat(task(a, "steady").path("status").asText()).isEqualTo("ok");
                assertThat(task(a, "shaky").path("attempts").get(0).path("outcome").asText()).isEqualTo("server_error");
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> breaker(b, "shaky#0") == CircuitBreaker.State.OPEN);
            assertThat(breaker(b, "steady#0")).isEqualTo(CircuitBreaker.State.CLOSED);
            upstream.verify(4, postRequestedFor(urlEqualTo(Upstreams.path("broken"))));
            assertThat(task(b, "shaky").path("attempts").get(0).path("outcome").asText()).isEqualTo("circuit_open");
            upstream.verify(4, postRequestedFor(urlEqualTo(Upstreams.path("broken"))));
        }
    }
}
