package io.caravan.shaping;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static io.caravan.shaping.Shaping.ok;
import static io.caravan.shaping.Shaping.okTask;
import static io.caravan.shaping.Shaping.path;
import static io.caravan.shaping.Shaping.provider;
import static io.caravan.shaping.Shaping.received;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Each group strategy's choice on upstreams whose speed, price and load the test controls. */
class StrategyTest {

    static WireMockServer upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(path("slow"))).willReturn(ok("slow", 10, 5).withFixedDelay(400)));
        upstream.stubFor(post(urlEqualTo(path("fast"))).willReturn(ok("fast", 10, 5)));
        upstream.stubFor(post(urlEqualTo(path("dear"))).willReturn(ok("dear", 10, 5)));
        upstream.stubFor(post(urlEqualTo(path("cheap"))).willReturn(ok("cheap", 10, 5)));
        upstream.stubFor(post(urlEqualTo(path("held"))).willReturn(ok("held", 10, 5).withFixedDelay(3000)));
        upstream.stubFor(post(urlEqualTo(path("free"))).willReturn(ok("free", 10, 5)));
        upstream.stubFor(post(urlEqualTo(path("wa"))).willReturn(ok("wa", 10, 5)));
        upstream.stubFor(post(urlEqualTo(path("wb"))).willReturn(ok("wb", 10, 5)));
        StringBuilder catalog = new StringBuilder("providers:\n");
        for (String p : List.of("slow", "fast", "dear", "cheap", "held", "free", "wa", "wb")) {
            catalog.append(provider(upstream, p, "\"k\"", ""));
        }
        catalog.append("""
                models:
                  - {name: quick, provider: slow, model: m, price: {input: 1, output: 1}}
                  - {name: quick, provider: fast, model: m, price: {input: 1, output: 1}}
                  - {name: thrifty, provider: dear, model: m, price: {input: 10, output: 30}}
                  - {name: thrifty, provider: cheap, model: m, price: {input: 0.5, output: 1.5}}
                  - {name: busy, provider: held, model: m, price: {input: 1, output: 1}}
                  - {name: busy, provider: free, model: m, price: {input: 1, output: 1}}
                  - {name: shared, provider: wa, model: m, weight: 3, price: {input: 1, output: 1}}
                  - {name: shared, provider: wb, model: m, weight: 1, price: {input: 1, output: 1}}
                groups:
                  quick: {strategy: latency}
                  thrifty: {strategy: cost}
                  busy: {strategy: least-busy}
                tiers:
                  balanced: {model: shared}
                """);
        caravan = Caravan.start(catalog.toString(), Map.of(), Map.of());
    }

    @AfterAll
    static void stop() throws Exception {
        if (caravan != null) {
            caravan.close();
        }
        if (upstream != null) {
            upstream.stop();
        }
    }

    static String task(String group) {
        return "{\"model\":\"" + group + "\",\"prompt\":\"hi\",\"timeout_ms\":10000}";
    }

    @Test
    void latencySendsTrafficToTheFasterDeploymentOnceBothAreMeasured() throws Exception {
        // the first two tasks measure both (an unmeasured deployment counts as fastest)
        okTask(caravan, task("quick"));
        okTask(caravan, task("quick"));
        assertThat(received(upstream, "slow")).hasSize(1);
        assertThat(received(upstream, "fast")).hasSize(1);
        for (int i = 0; i < 6; i++) {
            JsonNode result = okTask(caravan, task("quick"));
            assertThat(result.path("provider").asText()).isEqualTo("fast");
        }
        assertThat(received(upstream, "slow")).hasSize(1);
    }

    @Test
    void costTakesTheCheapestDeploymentFirst() throws Exception {
        for (int i = 0; i < 4; i++) {
            assertThat(okTask(caravan, task("thrifty")).path("provider").asText()).isEqualTo("cheap");
        }
        assertThat(received(upstream, "dear")).isEmpty();
    }

    @Test
    void leastBusyAvoidsTheDeploymentWithACallHeldOpen() throws Exception {
        // the first task goes to the first deployment (both idle) and is held open there for 3 s
        CompletableFuture<JsonNode> heldTask = CompletableFuture.supplyAsync(() -> {
            try {
                return okTask(caravan, task("busy"));
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> received(upstream, "held").size() == 1);
        // weighted round-robin would send every other task to the held deployment; least-busy sends none
        for (int i = 0; i < 4; i++) {
            assertThat(okTask(caravan, task("busy")).path("provider").asText()).isEqualTo("free");
        }
        assertThat(received(upstream, "held")).hasSize(1);
        assertThat(heldTask.get().path("provider").asText()).isEqualTo("held");
    }

    @Test
    void weightedStaysTheDefault() throws Exception {
        for (int i = 0; i < 8; i++) {
            okTask(caravan, task("shared"));
        }
        assertThat(received(upstream, "wa")).hasSize(6);
        assertThat(received(upstream, "wb")).hasSize(2);
    }
}
