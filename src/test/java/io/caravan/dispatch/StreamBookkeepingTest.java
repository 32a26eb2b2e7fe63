package io.caravan.dispatch;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestCatalog;
import io.caravan.support.Upstreams;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A streamed answer settles what its call took when it ends, like a plain answer: its in-flight count (least-busy
 * routing) and its tpm estimate (the key's token bucket). Both used to leak with every stream.
 */
class StreamBookkeepingTest {

    /** An OpenAI stream of two pieces that reports 5 + 5 tokens. */
    static final String STREAM = """
            data: {"id":"up-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"all "},"finish_reason":null}]}

            data: {"id":"up-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"fine"},"finish_reason":"stop"}]}

            data: {"id":"up-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}}

            data: [DONE]

            """;

    static WireMockServer upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        for (String p : List.of("steady", "metered")) {
            upstream.stubFor(post(urlEqualTo("/" + p + "/v1/chat/completions"))
                    .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
                            .withBody(STREAM)));
        }
        upstream.stubFor(post(urlEqualTo("/failing/v1/chat/completions"))
                .willReturn(aResponse().withStatus(500).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("internal", "server_error", "internal"))));
        String base = "http://127.0.0.1:" + upstream.port() + "/";
        caravan = Caravan.start(TestCatalog.create()
                .openAi("steady", base + "steady/v1")
                .openAi("failing", base + "failing/v1")
                .openAi("metered", base + "metered/v1", "tpm: 1000")
                .model("pair", "steady", "m")
                .model("pair", "failing", "m")
                .model("metered", "metered", "m")
                .block("groups:\n  pair: {strategy: least-busy}\n")
                // the failing deployment's breaker stays closed: its turn comes every other time
                .block("circuit_breaker: {minimum_calls: 100}\n")
                .yaml());
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
    }

    static HttpResponse<String> stream(String model, String extra) throws Exception {
        return caravan.post("/v1/chat/completions", """
                {"model":"%s","stream":true,"messages":[{"role":"user","content":"hi"}]%s}
                """.formatted(model, extra));
    }

    @Test
    void aFinishedStreamNoLongerCountsAsBusyForLeastBusyRouting() throws Exception {
        // least-busy takes turns between equally idle deployments; the failing one falls back to the steady one.
        // Were each finished stream still counted in flight, the steady deployment would look ever busier and
        // the failing one would go first every time.
        List<String> fellBack = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            HttpResponse<String> r = stream("pair", "");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).contains("all ").endsWith("data: [DONE]\n\n");
            fellBack.add(r.headers().firstValue("x-caravan-fallback").orElseThrow());
        }
        assertThat(fellBack).containsExactly("false", "true", "false", "true");
    }

    @Test
    void aStreamGivesBackTheTokensItWasEstimatedButDidNotUse() throws Exception {
        // each request is estimated at about 600 tokens of a 1000-token minute; the streams report 10
        String extra = ",\"max_tokens\":590,\"timeout_ms\":3000";
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> r = stream("metered", extra);
            assertThat(r.statusCode()).as("stream %d", i + 1).isEqualTo(200);
            assertThat(r.body()).contains("fine");
        }
    }
}
