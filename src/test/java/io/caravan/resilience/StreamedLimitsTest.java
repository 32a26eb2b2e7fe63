package io.caravan.resilience;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A streamed answer counts against its key's limits as a plain one does: the headroom its response headers report
 * caps the key, and its tpm counts the tokens the stream used rather than the estimate taken before the call.
 * Each test streams one answer on the {@code oai} key, then sends a plain task that must leave that key alone and
 * fall back to {@code spare}.
 */
class StreamedLimitsTest {

    /** A stream of a short answer whose usage chunk says 1,000 prompt and 500 completion tokens. */
    static final String STREAM = "data: {\"id\":\"s-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
            + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"streamed\"},\"finish_reason\":null}]}\n\n"
            + "data: {\"id\":\"s-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
            + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
            + "data: {\"id\":\"s-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],"
            + "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500,\"total_tokens\":1500}}\n\n"
            + "data: [DONE]\n\n";

    WireMockServer upstream;

    @BeforeEach
    void start() {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("spare"))).willReturn(Upstreams.ok("from the spare")));
    }

    @AfterEach
    void stop() {
        upstream.stop();
    }

    String catalog(String oaiLimits) {
        return """
                providers:
                  oai:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/oai/v1
                    api_keys: ["sk-oai-0123456789"]
                    retries: 0
                    timeout: 5s
                    %2$s
                  spare:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/spare/v1
                    api_keys: ["sk-spare-0123456789"]
                    retries: 0
                    timeout: 5s
                models:
                  - {name: gpt, provider: oai, model: gpt-4o-mini, price: {input: 1, output: 1}}
                  - {name: backup, provider: spare, model: backup-1, price: {input: 1, output: 1}}
                tiers:
                  fast: {model: gpt}
                fallbacks:
                  gpt: [backup]
                """.formatted(upstream.port(), oaiLimits);
    }

    void streams(ResponseDefinitionBuilder answer) {
        upstream.stubFor(post(urlEqualTo(Upstreams.path("oai"))).willReturn(answer
                .withStatus(200).withHeader("Content-Type", "text/event-stream").withBody(STREAM)));
    }

    /** Streams one answer on gpt, then sends a plain task of {@code promptChars} characters on gpt: its result. */
    static JsonNode streamThenPlain(Caravan caravan, int promptChars) throws Exception {
        HttpResponse<String> streamed = caravan.post("/v1/chat/completions", "{\"model\":\"gpt\",\"stream\":true,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(streamed.statusCode()).isEqualTo(200);
        assertThat(streamed.body()).contains("streamed").endsWith("data: [DONE]\n\n");
        return Json.MAPPER.readTree(caravan.post("/v1/tasks", "{\"model\":\"gpt\",\"prompt\":\"" + "x".repeat(promptChars)
                + "\"}").body());
    }

    @Test
    void theHeadroomAStreamReportsCapsItsKey() throws Exception {
        streams(aResponse().withHeader("x-ratelimit-remaining-requests", "0")
                .withHeader("x-ratelimit-reset-requests", "30s"));
        try (Caravan caravan = Caravan.start(catalog("rpm: 100"), Map.of(), Map.of())) {
            JsonNode plain = streamThenPlain(caravan, 10);
            assertThat(plain.path("status").asText()).as(plain.toString()).isEqualTo("ok");
            assertThat(plain.path("model").asText()).isEqualTo("backup");
            upstream.verify(1, postRequestedFor(urlEqualTo(Upstreams.path("oai"))));
            JsonNode key = Json.MAPPER.readTree(caravan.get("/status").body()).path("fleet").path("keys").get(0);
            assertThat(key.path("headroom").path("requests").asLong()).isZero();
        }
    }

    @Test
    void aStreamsTokensCountInItsKeysTpm() throws Exception {
        streams(aResponse());
        // tpm 1,600: the stream used 1,500, so a task of about 250 tokens no longer fits this minute
        try (Caravan caravan = Caravan.start(catalog("tpm: 1600"), Map.of(), Map.of())) {
            JsonNode plain = streamThenPlain(caravan, 1000);
            assertThat(plain.path("status").asText()).as(plain.toString()).isEqualTo("ok");
            assertThat(plain.path("model").asText()).isEqualTo("backup");
            upstream.verify(1, postRequestedFor(urlEqualTo(Upstreams.path("oai"))));
        }
    }
}
