package io.caravan.provider;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One fallback chain across three wire formats: an OpenAI-compatible primary that is rate-limited, Anthropic
 * answering in its own format, Gemini last. The caller sees OpenAI's shape whichever provider answered.
 */
class MixedProviderChainTest {

    static WireMockServer upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/openai/v1/chat/completions"))
                .willReturn(aResponse().withStatus(429).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("Rate limit reached for requests", "requests", "rate_limit_exceeded"))));
        upstream.stubFor(post(urlEqualTo("/anthropic/v1/messages"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("""
                        {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
                         "content":[{"type":"text","text":"Let me look that up."},
                                    {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],
                         "stop_reason":"tool_use","stop_sequence":null,
                         "usage":{"input_tokens":400,"cache_read_input_tokens":600,"cache_creation_input_tokens":0,
                                  "output_tokens":50}}
                        """)));
        upstream.stubFor(post(urlPathEqualTo("/gemini/v1beta/models/gemini-2.5-flash:generateContent"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("""
                        {"candidates":[{"content":{"role":"model","parts":[{"text":"from gemini"}]},"finishReason":"STOP"}],
                         "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5}}
                        """)));
        String catalog = """
                providers:
                  openai:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/openai/v1
                    api_keys: ["sk-openai-test"]
                    retries: 0
                  anthropic:
                    api: anthropic
                    base_url: http://127.0.0.1:%1$d/anthropic
                    api_keys: ["sk-ant-test"]
                  gemini:
                    api: gemini
                    base_url: http://127.0.0.1:%1$d/gemini
                    api_keys: ["AIza-test"]
                models:
                  - {name: gpt, provider: openai, model: gpt-4o-mini, price: {input: 0.15, output: 0.60}}
                  - {name: claude, provider: anthropic, model: claude-sonnet-4-5, max_output_tokens: 1024,
                     price: {input: 3.0, cached_input: 0.30, output: 15.0}}
                  - {name: gemini, provider: gemini, model: gemini-2.5-flash, price: {input: 0.30, output: 2.50}}
                fallbacks:
                  gpt: [claude, gemini]
                tiers:
                  balanced: {model: gpt}
                default_tier: balanced
                """.formatted(upstream.port());
        caravan = Caravan.start(catalog);
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
    }

    @Test
    void aRateLimitedOpenAiPrimaryFallsBackToAnthropicAndTheToolCallComesBackInOpenAiShape() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks", """
                {"id":"mixed-1","messages":[{"role":"system","content":"You are terse."},
                                            {"role":"user","content":"Weather in Paris?"}],
                 "params":{"tools":[{"type":"function","function":{"name":"get_weather","description":"weather",
                            "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}}
                """);
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode result = Json.MAPPER.readTree(response.body());
        assertThat(result.path("provider").asText()).isEqualTo("anthropic");
        assertThat(result.path("model").asText()).isEqualTo("claude");
        assertThat(result.path("fallback").asBoolean()).isTrue();
        assertThat(result.path("finish_reason").asText()).isEqualTo("tool_calls");
        assertThat(result.path("attempts")).hasSize(2);
        assertThat(result.path("attempts").get(0).path("outcome").asText()).isEqualTo("rate_limited");
        assertThat(result.path("attempts").get(0).path("status").asInt()).isEqualTo(429);
        assertThat(result.path("attempts").get(1).path("outcome").asText()).isEqualTo("ok");

        JsonNode call = result.path("output").path("tool_calls").get(0);
        assertThat(call.path("type").asText()).isEqualTo("function");
        assertThat(call.path("function").path("name").asText()).isEqualTo("get_weather");
        assertThat(Json.MAPPER.readTree(call.path("function").path("arguments").asText()).path("city").asText())
                .isEqualTo("Paris");

        // Anthropic's input_tokens exclude cache reads: Caravan adds them, and prices them as cached input
        assertThat(result.path("usage").path("input_tokens").asLong()).isEqualTo(1000);
        assertThat(result.path("usage").path("cached_input_tokens").asLong()).isEqualTo(600);
        double expected = (400 * 3.0 + 600 * 0.30 + 50 * 15.0) / 1_000_000.0;
        assertThat(result.path("usage").path("cost_usd").asDouble()).isCloseTo(expected, within(1e-9));

        upstream.verify(postRequestedFor(urlEqualTo("/anthropic/v1/messages"))
                .withHeader("x-api-key", equalTo("sk-ant-test"))
                .withHeader("anthropic-version", equalTo("2023-06-01"))
                .withRequestBody(matchingJsonPath("$.system", equalTo("You are terse.")))
                .withRequestBody(matchingJsonPath("$.max_tokens", equalTo("1024")))
                .withRequestBody(matchingJsonPath("$.tools[0].name", equalTo("get_weather"))));
        assertThat(upstream.findAll(postRequestedFor(urlPathEqualTo(
                "/gemini/v1beta/models/gemini-2.5-flash:generateContent")))).isEmpty();
    }
}
