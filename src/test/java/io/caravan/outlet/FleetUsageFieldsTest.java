package io.caravan.outlet;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.resilience.KeyPool;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/**
 * Contract section 10: each usage event names the instance, the key's fingerprint (never the key), the provider's
 * Retry-After and its rate-limit headroom, read from the real headers of the answer.
 */
class FleetUsageFieldsTest {

    static final String BUSY_KEY = "sk-busy-0123456789abcdef";
    static final String GOOD_KEY = "sk-good-0123456789abcdef";

    @Test
    void eventsCarryInstanceKeyFingerprintRetryAfterAndHeadroom() throws Exception {
        WireMockServer upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("busy"))).willReturn(aResponse().withStatus(429)
                .withHeader("Content-Type", "application/json").withHeader("retry-after-ms", "1500")
                .withHeader("x-ratelimit-remaining-requests", "0").withHeader("x-ratelimit-reset-requests", "1.5s")
                .withBody(Upstreams.error("Rate limit reached", "requests", "rate_limit_exceeded"))));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("good"))).willReturn(Upstreams.ok("fine")
                .withHeader("x-ratelimit-remaining-requests", "59").withHeader("x-ratelimit-remaining-tokens", "149984")
                .withHeader("x-ratelimit-reset-requests", "1s").withHeader("x-ratelimit-reset-tokens", "6m0s")));
        String catalog = "providers:\n" + provider(upstream, "busy", BUSY_KEY) + provider(upstream, "good", GOOD_KEY)
                + """
                models:
                  - {name: first, provider: busy, model: m, price: {input: 1, output: 1}}
                  - {name: second, provider: good, model: m, price: {input: 1, output: 1}}
                fallbacks:
                  first: [second]
                tiers:
                  balanced: {model: first}
                """;
        try (Caravan caravan = Caravan.start(catalog, Map.of(), Map.of("caravan.instance-id", "caravan-a"))) {
            JsonNode result = Json.MAPPER.readTree(caravan.post("/v1/tasks",
                    "{\"id\":\"f-1\",\"model\":\"first\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").body());
            assertThat(result.path("status").asText()).as(result.toString()).isEqualTo("ok");

            List<ConsumerRecord<String, byte[]>> records = TestKafka.readKeys(caravan.usageTopic, Set.of("f-1"),
                    Duration.ofSeconds(20));
            List<JsonNode> events = new ArrayList<>();
            for (ConsumerRecord<String, byte[]> r : records) {
                String text = new String(r.value(), StandardCharsets.UTF_8);
                assertThat(text).doesNotContain(BUSY_KEY).doesNotContain(GOOD_KEY);
                events.add(Json.MAPPER.readTree(text));
            }
            JsonNode busy = events.stream().filter(e -> e.path("provider").asText().equals("busy")).findFirst().orElseThrow();
            JsonNode good = events.stream().filter(e -> e.path("provider").asText().equals("good")).findFirst().orElseThrow();

            assertThat(busy.path("instance").asText()).isEqualTo("caravan-a");
            assertThat(busy.path("outcome").asText()).isEqualTo("rate_limited");
            assertThat(busy.path("key_id").asText()).isEqualTo(KeyPool.fingerprint(BUSY_KEY)).hasSize(12)
                    .matches("[0-9a-f]{12}");
            assertThat(busy.path("retry_after_ms").asLong()).isEqualTo(1500);
            assertThat(busy.path("headroom").path("requests").asLong()).isZero();
            assertThat(busy.path("headroom").path("tokens").isNull()).isTrue();
            assertThat(busy.path("headroom").path("reset_ms").asLong()).isEqualTo(1500);

            assertThat(good.path("instance").asText()).isEqualTo("caravan-a");
            assertThat(good.path("key_id").asText()).isEqualTo(KeyPool.fingerprint(GOOD_KEY));
            assertThat(good.has("retry_after_ms")).isTrue();
            assertThat(good.path("retry_after_ms").isNull()).isTrue();
            assertThat(good.path("headroom").path("requests").asLong()).isEqualTo(59);
            assertThat(good.path("headroom").path("tokens").asLong()).isEqualTo(149984);
            assertThat(good.path("headroom").path("reset_ms").asLong()).isEqualTo(360_000);
        } finally {
            upstream.stop();
        }
    }

    @Test
    void theFingerprintIsTheFirstTwelveHexDigitsOfTheKeysSha256() {
        // sha256("test") = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        assertThat(KeyPool.fingerprint("test")).isEqualTo("9f86d081884c");
    }

    static String provider(WireMockServer upstream, String name, String key) {
        return """
                  %1$s:
                    api: openai
                    base_url: http://127.0.0.1:%2$d/%1$s/v1
                    api_keys: ["%3$s"]
                    timeout: 5s
                    retries: 0
                """.formatted(name, upstream.port(), key);
    }
}
