package io.caravan.shaping;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static io.caravan.shaping.Shaping.ok;
import static io.caravan.shaping.Shaping.okTask;
import static io.caravan.shaping.Shaping.outcomes;
import static io.caravan.shaping.Shaping.path;
import static io.caravan.shaping.Shaping.provider;
import static io.caravan.shaping.Shaping.received;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The response cache: deterministic repeats answer without a call; everything else always calls. */
class ResponseCacheTest {

    static WireMockServer upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        for (String p : List.of("det", "random", "forced", "nocache")) {
            upstream.stubFor(post(urlEqualTo(path(p))).willReturn(ok("answer of " + p, 100, 20)));
        }
        StringBuilder catalog = new StringBuilder("providers:\n");
        for (String p : List.of("det", "random", "forced", "nocache")) {
            catalog.append(provider(upstream, p, "\"k\"", ""));
        }
        catalog.append("""
                models:
                  - {name: det, provider: det, model: m, price: {input: 1, output: 1}}
                  - {name: random, provider: random, model: m, price: {input: 1, output: 1}}
                  - {name: forced, provider: forced, model: m, price: {input: 1, output: 1}}
                  - {name: nocache, provider: nocache, model: m, price: {input: 1, output: 1}}
                tiers:
                  balanced: {model: det}
                cache: {ttl: 10m, max_entries: 100}
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

    @Test
    void aRepeatedDeterministicTaskMakesOneUpstreamCall() throws Exception {
        JsonNode first = okTask(caravan, "{\"id\":\"det-1\",\"model\":\"det\",\"prompt\":\"what is 2+2?\","
                + "\"params\":{\"temperature\":0,\"max_tokens\":50}}");
        // same request with params in another order and 0.0 for 0: the same normalised request
        JsonNode second = okTask(caravan, "{\"id\":\"det-2\",\"model\":\"det\",\"prompt\":\"what is 2+2?\","
                + "\"params\":{\"max_tokens\":50,\"temperature\":0.0}}");

        assertThat(received(upstream, "det")).hasSize(1);
        assertThat(first.has("cache_hit")).isFalse();
        assertThat(second.path("cache_hit").asBoolean()).isTrue();
        assertThat(second.path("output").path("content").asText()).isEqualTo("answer of det");
        assertThat(outcomes(second)).containsExactly("det#0 cache_hit");
        assertThat(second.path("attempts").get(0).path("status").isNull()).isTrue();
        assertThat(second.path("usage").path("cost_usd").asDouble()).isZero();
        assertThat(first.path("usage").path("cost_usd").asDouble()).isPositive();

        List<JsonNode> usage = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : TestKafka.readUntil(caravan.usageTopic,
                records -> records.stream().anyMatch(x -> "det-2".equals(x.key())), Duration.ofSeconds(10))) {
            if ("det-2".equals(r.key())) {
                usage.add(Json.MAPPER.readTree(r.value()));
            }
        }
        assertThat(usage).hasSize(1);
        assertThat(usage.get(0).path("outcome").asText()).isEqualTo("cache_hit");
        assertThat(usage.get(0).path("cost_usd").asDouble()).isZero();

        // another prompt is another entry
        okTask(caravan, "{\"model\":\"det\",\"prompt\":\"what is 3+3?\",\"params\":{\"temperature\":0}}");
        assertThat(received(upstream, "det")).hasSize(2);
    }

    @Test
    void aNonDeterministicTaskIsNeverCached() throws Exception {
        for (int i = 0; i < 3; i++) {
            JsonNode r = okTask(caravan, "{\"model\":\"random\",\"prompt\":\"a poem\",\"params\":{\"temperature\":0.7}}");
            assertThat(r.has("cache_hit")).isFalse();
        }
        for (int i = 0; i < 2; i++) {
            okTask(caravan, "{\"model\":\"random\",\"prompt\":\"no temperature at all\"}");
        }
        assertThat(received(upstream, "random")).hasSize(5);
    }

    @Test
    void cacheForceCachesAndCacheOffOptsOut() throws Exception {
        okTask(caravan, "{\"model\":\"forced\",\"prompt\":\"p\",\"cache\":\"force\",\"params\":{\"temperature\":1}}");
        JsonNode hit = okTask(caravan,
                "{\"model\":\"forced\",\"prompt\":\"p\",\"cache\":\"force\",\"params\":{\"temperature\":1}}");
        assertThat(hit.path("cache_hit").asBoolean()).isTrue();
        assertThat(received(upstream, "forced")).hasSize(1);

        okTask(caravan, "{\"model\":\"nocache\",\"prompt\":\"p\",\"params\":{\"temperature\":0}}");
        okTask(caravan, "{\"model\":\"nocache\",\"prompt\":\"p\",\"cache\":\"off\",\"params\":{\"temperature\":0}}");
        assertThat(received(upstream, "nocache")).hasSize(2);
    }

    @Test
    void anUnknownCacheDirectiveIsAnInvalidTask() throws Exception {
        var response = caravan.post("/v1/tasks", "{\"model\":\"det\",\"prompt\":\"p\",\"cache\":\"maybe\"}");
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(response.body()).contains("cache must be");
    }
}
