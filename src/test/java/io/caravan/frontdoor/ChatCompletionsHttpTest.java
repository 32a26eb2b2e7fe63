package io.caravan.frontdoor;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Raw HTTP against /v1/chat/completions and /v1/models: statuses, OpenAI error shapes, auth and limits. */
class ChatCompletionsHttpTest {

    static WireMockServer upstream;
    static Caravan caravan;
    static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        caravan = Caravan.start(FrontDoorFixtures.catalog(upstream), Map.of(),
                Map.of("caravan.http.api-keys", "other-key, " + FrontDoorFixtures.KEY, "caravan.max-task-bytes", "4096"));
    }

    @BeforeEach
    void stubs() {
        upstream.resetAll();
        upstream.stubFor(post(urlEqualTo("/oai/v1/chat/completions"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("hello from gpt", 120, 20, 30))));
        upstream.stubFor(post(urlEqualTo("/limited/v1/chat/completions"))
                .willReturn(aResponse().withStatus(429).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("Rate limit reached", "requests", "rate_limit_exceeded"))));
        upstream.stubFor(post(urlEqualTo("/bad/v1/chat/completions"))
                .willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("Invalid schema for function", "invalid_request_error", null))));
        upstream.stubFor(post(urlEqualTo("/slow/v1/chat/completions"))
                .willReturn(aResponse().withStatus(500).withFixedDelay(400).withBody("boom")));
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
    }

    static HttpResponse<String> send(String method, String path, String body, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + caravan.httpPort + path))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json");
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> chat(String body) throws Exception {
        return send("POST", "/v1/chat/completions", body, FrontDoorFixtures.KEY);
    }

    static JsonNode error(HttpResponse<String> response) throws Exception {
        JsonNode root = Json.MAPPER.readTree(response.body());
        JsonNode error = root.path("error");
        assertThat(error.isObject()).as(response.body()).isTrue();
        assertThat(error.path("message").asText()).isNotBlank();
        assertThat(error.path("type").asText()).isNotBlank();
        assertThat(error.has("code")).isTrue();
        return error;
    }

    @Test
    void aPlainCallAnswersAChatCompletionWithCaravanHeaders() throws Exception {
        HttpResponse<String> response = chat("""
                {"model":"gpt","messages":[{"role":"user","content":"hi"}],"max_tokens":50,"temperature":0.1,
                 "user":"u-42","metadata":{"tenant":"acme"}}
                """);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode body = Json.MAPPER.readTree(response.body());
        assertThat(body.path("object").asText()).isEqualTo("chat.completion");
        assertThat(body.path("id").asText()).startsWith("chatcmpl-");
        assertThat(body.path("model").asText()).isEqualTo("gpt-4o-mini");
        assertThat(body.path("created").asLong()).isPositive();
        assertThat(body.path("choices").get(0).path("message").path("content").asText()).isEqualTo("hello from gpt");
        assertThat(body.path("choices").get(0).path("finish_reason").asText()).isEqualTo("stop");
        assertThat(body.path("usage").path("prompt_tokens").asLong()).isEqualTo(120);
        assertThat(body.path("usage").path("completion_tokens").asLong()).isEqualTo(30);
        assertThat(body.path("usage").path("total_tokens").asLong()).isEqualTo(150);
        assertThat(body.path("usage").path("prompt_tokens_details").path("cached_tokens").asLong()).isEqualTo(20);
        assertThat(response.headers().firstValue("x-caravan-provider")).contains("oai");
        assertThat(response.headers().firstValue("x-caravan-model")).contains("gpt");
        assertThat(response.headers().firstValue("x-caravan-tier")).contains("fast");
        assertThat(response.headers().firstValue("x-caravan-fallback")).contains("false");
        double cost = Double.parseDouble(response.headers().firstValue("x-caravan-cost-usd").orElseThrow());
        assertThat(cost).isEqualTo((100 * 0.15 + 20 * 0.075 + 30 * 0.60) / 1_000_000.0, org.assertj.core.api.Assertions.within(1e-9));
        upstream.verify(postRequestedFor(urlEqualTo("/oai/v1/chat/completions"))
                .withRequestBody(matchingJsonPath("$.max_tokens", equalTo("50")))
                .withRequestBody(matchingJsonPath("$.model", equalTo("gpt-4o-mini"))));
    }

    @Test
    void aCallerThatLeavesStopsTheFallbackChain() throws Exception {
        upstream.stubFor(post(urlEqualTo("/slow/v1/chat/completions")).withRequestBody(
                        com.github.tomakehurst.wiremock.client.WireMock.containing("LEAVING"))
                .willReturn(aResponse().withStatus(500).withFixedDelay(1500).withBody("boom")));
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + caravan.httpPort + "/v1/chat/completions"))
                .timeout(Duration.ofMillis(300)).header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + FrontDoorFixtures.KEY)
                .POST(HttpRequest.BodyPublishers.ofString(
                        "{\"model\":\"slowfb\",\"messages\":[{\"role\":\"user\",\"content\":\"LEAVING\"}]}"))
                .build();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> http.send(request, HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(java.net.http.HttpTimeoutException.class);
        // the slow deployment fails (at 1.5 s) after the caller left: its fallback (gpt) is not called for nobody
        org.awaitility.Awaitility.await().during(Duration.ofMillis(2500)).atMost(Duration.ofSeconds(5)).until(() ->
                upstream.findAll(postRequestedFor(urlEqualTo("/oai/v1/chat/completions"))).isEmpty());
        assertThat(upstream.findAll(postRequestedFor(urlEqualTo("/slow/v1/chat/completions")))).hasSize(1);
    }

    @Test
    void modelsListsAutoGroupsAndTierAliases() throws Exception {
        HttpResponse<String> response = send("GET", "/v1/models", null, FrontDoorFixtures.KEY);
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode body = Json.MAPPER.readTree(response.body());
        assertThat(body.path("object").asText()).isEqualTo("list");
        List<String> ids = new ArrayList<>();
        body.path("data").forEach(m -> {
            assertThat(m.path("object").asText()).isEqualTo("model");
            ids.add(m.path("id").asText());
        });
        assertThat(ids).contains("auto", "gpt", "claude", "gem", "tier:fast", "tier:smart");
    }

    @Test
    void everyV1RouteWantsTheBearerKey() throws Exception {
        for (String key : new String[] {null, "wrong-key", FrontDoorFixtures.KEY + "x", ""}) {
            HttpResponse<String> chat = send("POST", "/v1/chat/completions",
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", key);
            assertThat(chat.statusCode()).as("key %s", key).isEqualTo(401);
            assertThat(error(chat).path("code").asText()).isEqualTo("invalid_api_key");
            assertThat(send("GET", "/v1/models", null, key).statusCode()).isEqualTo(401);
            assertThat(send("POST", "/v1/tasks", "{\"prompt\":\"hi\"}", key).statusCode()).isEqualTo(401);
        }
        assertThat(send("GET", "/v1/models", null, "other-key").statusCode()).isEqualTo(200);
        assertThat(send("POST", "/v1/tasks", "{\"prompt\":\"hi\",\"model\":\"gpt\"}", FrontDoorFixtures.KEY).statusCode())
                .isEqualTo(200);
        upstream.verify(1, postRequestedFor(urlPathMatching("/.*")));
    }

    @Test
    void malformedJsonIs400AndNeverReachesAProvider() throws Exception {
        HttpResponse<String> response = chat("{\"messages\": [ {\"role\": ");
        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode error = error(response);
        assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(chat("[1,2]").statusCode()).isEqualTo(400);
        assertThat(chat("{\"model\":\"gpt\"}").statusCode()).isEqualTo(400);
        assertThat(chat("{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode())
                .isEqualTo(400);
        assertThat(upstream.getAllServeEvents()).isEmpty();
    }

    @Test
    void anOversizedBodyIs413BeforeParsing() throws Exception {
        String big = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(5000) + "\"}]}";
        HttpResponse<String> response = chat(big);
        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(error(response).path("code").asText()).isEqualTo("request_too_large");
        // not even JSON, but too large: the size decides first
        assertThat(chat("{" + "y".repeat(5000)).statusCode()).isEqualTo(413);
        assertThat(upstream.getAllServeEvents()).isEmpty();
    }

    @Test
    void providerErrorsComeBackInOpenAiShapeWithTheirStatus() throws Exception {
        HttpResponse<String> bad = chat("{\"model\":\"bad\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(error(bad).path("code").asText()).isEqualTo("bad_request");

        HttpResponse<String> limited = chat("{\"model\":\"limited\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(error(limited).path("code").asText()).isEqualTo("exhausted");
        assertThat(error(limited).path("type").asText()).isEqualTo("server_error");

        HttpResponse<String> slow = chat("""
                {"model":"slow","messages":[{"role":"user","content":"hi"}],"timeout_ms":200}
                """);
        assertThat(slow.statusCode()).as(slow.body()).isEqualTo(504);
        assertThat(error(slow).path("code").asText()).isEqualTo("timeout");
    }
}
