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
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A streamed chat completion is in /metrics and /status like any other task, once its stream ended. */
class StreamedBooksTest {

    static String chunk(String delta, String finish) {
        return "data: {\"id\":\"up-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
                + "\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":"
                + (finish == null ? "null" : "\"" + finish + "\"") + "}]}\n\n";
    }

    static final String STREAM = chunk("{\"role\":\"assistant\",\"content\":\"\"}", null)
            + chunk("{\"content\":\"streamed \"}", null) + chunk("{\"content\":\"answer\"}", null)
            + chunk("{}", "stop")
            + "data: {\"id\":\"up-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500,\"total_tokens\":1500}}\n\n"
            + "data: [DONE]\n\n";

    /** Two events, then the body ends without a finish or [DONE]. */
    static final String CUT = chunk("{\"role\":\"assistant\",\"content\":\"\"}", null)
            + chunk("{\"content\":\"half\"}", null);

    @Test
    void aStreamedAnswerIsCountedWithItsOutcomeProviderTokensAndCost() throws Exception {
        WireMockServer upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("oai"))).willReturn(aResponse().withStatus(200)
                .withHeader("Content-Type", "text/event-stream").withBody(STREAM)));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("oai"))).withRequestBody(containing("CUT"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(CUT)));
        String catalog = """
                providers:
                  oai:
                    api: openai
                    base_url: http://127.0.0.1:%d/oai/v1
                    api_keys: ["sk-test-oai"]
                    retries: 0
                    timeout: 5s
                models:
                  - {name: gpt, provider: oai, model: gpt-4o-mini, price: {input: 0.15, output: 0.60}}
                tiers:
                  fast: {model: gpt}
                default_tier: fast
                """.formatted(upstream.port());
        try (Caravan caravan = Caravan.start(catalog, Map.of(), Map.of())) {
            HttpResponse<String> r = caravan.post("/v1/chat/completions", "{\"model\":\"gpt\",\"stream\":true,"
                    + "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).contains("streamed ").endsWith("data: [DONE]\n\n");
            double cost = (1000 * 0.15 + 500 * 0.60) / 1_000_000.0;

            // counted once the stream ended: right after the response, not before
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                PrometheusText m = new PrometheusText(caravan.get("/metrics").body());
                assertThat(m.value("caravan_requests_total", "tier", "fast", "model", "gpt", "provider", "oai",
                        "outcome", "ok")).isEqualTo(1.0);
                assertThat(m.value("caravan_tokens_total", "provider", "oai", "model", "gpt", "kind", "input"))
                        .isEqualTo(1000.0);
                assertThat(m.value("caravan_tokens_total", "provider", "oai", "model", "gpt", "kind", "output"))
                        .isEqualTo(500.0);
                assertThat(m.value("caravan_cost_usd_total", "tier", "fast", "model", "gpt", "provider", "oai"))
                        .isCloseTo(cost, within(1e-12));
            });
            PrometheusText m = new PrometheusText(caravan.get("/metrics").body());
            assertThat(m.value("caravan_requests_total", "outcome", "unknown")).isNull();
            assertThat(m.value("caravan_requests_total", "provider", "none")).isNull();

            JsonNode status = Json.MAPPER.readTree(caravan.get("/status").body());
            assertThat(status.path("totals").path("requests").asLong()).isEqualTo(1);
            assertThat(status.path("totals").path("spend_usd").asDouble()).isCloseTo(cost, within(1e-12));
            JsonNode deployment = status.path("deployments").get(0);
            assertThat(deployment.path("requests").asLong()).isEqualTo(1);
            assertThat(deployment.path("spend_usd").asDouble()).isCloseTo(cost, within(1e-12));

            // a stream that breaks is counted with the class it failed with
            HttpResponse<String> cut = caravan.post("/v1/chat/completions", "{\"model\":\"gpt\",\"stream\":true,"
                    + "\"messages\":[{\"role\":\"user\",\"content\":\"CUT\"}]}");
            assertThat(cut.body()).doesNotContain("[DONE]");
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                JsonNode s = Json.MAPPER.readTree(caravan.get("/status").body());
                assertThat(s.path("totals").path("requests").asLong()).isEqualTo(2);
                assertThat(s.path("deployments").get(0).path("failures").size()).isEqualTo(1);
            });
            PrometheusText after = new PrometheusText(caravan.get("/metrics").body());
            assertThat(after.value("caravan_requests_total", "outcome", "unknown")).isNull();
            assertThat(after.value("caravan_requests_total", "tier", "fast", "model", "gpt", "provider", "oai",
                    "outcome", "ok")).isEqualTo(1.0);
        } finally {
            upstream.stop();
        }
    }
}
