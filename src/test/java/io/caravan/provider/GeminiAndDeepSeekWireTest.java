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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Gemini and DeepSeek over the wire, through the whole route set: what the upstream received, and how its
 * answer (usage with cached tokens, a tool call, a per-day quota) comes back.
 */
class GeminiAndDeepSeekWireTest {

    static WireMockServer upstream;
    static Caravan caravan;
    static final String GEMINI = "/gemini/v1beta/models/gemini-2.5-flash:generateContent";

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlPathEqualTo(GEMINI)).willReturn(aResponse().withStatus(200)
                .withHeader("Content-Type", "application/json").withBody("""
                        {"candidates":[{"content":{"role":"model","parts":[
                            {"functionCall":{"name":"lookup","args":{"sku":"A-1"}}}]},"finishReason":"STOP"}],
                         "usageMetadata":{"promptTokenCount":1200,"cachedContentTokenCount":1000,
                                          "candidatesTokenCount":30,"thoughtsTokenCount":20}}
                        """)));
        upstream.stubFor(post(urlEqualTo("/deepseek/v1/chat/completions")).willReturn(aResponse().withStatus(200)
                .withHeader("Content-Type", "application/json").withBody("""
                        {"id":"x","object":"chat.completion","model":"deepseek-chat",
                         "choices":[{"index":0,"message":{"role":"assistant","content":"cached answer"},"finish_reason":"stop"}],
                         "usage":{"prompt_tokens":2000,"completion_tokens":100,"total_tokens":2100,
                                  "prompt_cache_hit_tokens":1500,"prompt_cache_miss_tokens":500}}
                        """)));
        upstream.stubFor(post(urlPathEqualTo("/quota/v1beta/models/gemini-2.5-pro:generateContent"))
                .willReturn(aResponse().withStatus(429).withHeader("Content-Type", "application/json").withBody("""
                        {"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"Quota exceeded",
                          "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[
                            {"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}}
                        """)));
        String catalog = """
                providers:
                  google:   {api: gemini, base_url: "http://127.0.0.1:%1$d/gemini", api_keys: ["AIza-wire-test"]}
                  google2:  {api: gemini, base_url: "http://127.0.0.1:%1$d/quota", api_keys: ["AIza-quota"], retries: 2}
                  deepseek: {api: deepseek, base_url: "http://127.0.0.1:%1$d/deepseek/v1", api_keys: ["sk-ds-wire"]}
                models:
                  - {name: flash, provider: google, model: gemini-2.5-flash, price: {input: 0.30, cached_input: 0.03, output: 2.50}}
                  - {name: pro, provider: google2, model: gemini-2.5-pro, price: {input: 1.25, output: 10.0}}
                  - {name: ds, provider: deepseek, model: deepseek-chat, price: {input: 0.27, cached_input: 0.07, output: 1.10}}
                fallbacks:
                  pro: [ds]
                tiers:
                  balanced: {model: flash}
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
    void geminiGetsItsOwnWireFormatAndItsFunctionCallComesBackAsAnOpenAiToolCall() throws Exception {
        JsonNode result = Json.MAPPER.readTree(caravan.post("/v1/tasks", """
                {"model":"flash","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Stock of A-1?"}],
                 "params":{"temperature":0.1,"max_tokens":64,
                           "tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object",
                                     "properties":{"sku":{"type":"string"}}}}}]}}
                """).body());
        assertThat(result.path("status").asText()).isEqualTo("ok");
        assertThat(result.path("finish_reason").asText()).isEqualTo("tool_calls");
        JsonNode call = result.path("output").path("tool_calls").get(0);
        assertThat(call.path("function").path("name").asText()).isEqualTo("lookup");
        assertThat(Json.MAPPER.readTree(call.path("function").path("arguments").asText()).path("sku").asText())
                .isEqualTo("A-1");
        // thoughts count as output; cached content is priced as cached input
        assertThat(result.path("usage").path("output_tokens").asLong()).isEqualTo(50);
        double expected = (200 * 0.30 + 1000 * 0.03 + 50 * 2.50) / 1_000_000.0;
        assertThat(result.path("usage").path("cost_usd").asDouble()).isCloseTo(expected, within(1e-9));
        upstream.verify(postRequestedFor(urlPathEqualTo(GEMINI))
                .withHeader("x-goog-api-key", equalTo("AIza-wire-test"))
                .withRequestBody(matchingJsonPath("$.systemInstruction.parts[0].text", equalTo("Be brief.")))
                .withRequestBody(matchingJsonPath("$.contents[0].role", equalTo("user")))
                .withRequestBody(matchingJsonPath("$.generationConfig.maxOutputTokens", equalTo("64")))
                .withRequestBody(matchingJsonPath("$.tools[0].functionDeclarations[0].name", equalTo("lookup"))));
    }

    @Test
    void aPerDayGeminiQuotaIsNotRetriedAndDeepSeekCacheHitsArePricedAsCachedInput() throws Exception {
        JsonNode result = Json.MAPPER.readTree(caravan.post("/v1/tasks",
                "{\"model\":\"pro\",\"prompt\":\"Summarise the filing\"}").body());
        assertThat(result.path("attempts").get(0).path("outcome").asText()).isEqualTo("quota_exhausted");
        assertThat(upstream.findAll(postRequestedFor(
                urlPathEqualTo("/quota/v1beta/models/gemini-2.5-pro:generateContent")))).hasSize(1);
        assertThat(result.path("provider").asText()).isEqualTo("deepseek");
        assertThat(result.path("usage").path("cached_input_tokens").asLong()).isEqualTo(1500);
        double expected = (500 * 0.27 + 1500 * 0.07 + 100 * 1.10) / 1_000_000.0;
        assertThat(result.path("usage").path("cost_usd").asDouble()).isCloseTo(expected, within(1e-9));
        upstream.verify(postRequestedFor(urlEqualTo("/deepseek/v1/chat/completions"))
                .withHeader("Authorization", equalTo("Bearer sk-ds-wire"))
                .withRequestBody(matchingJsonPath("$.model", equalTo("deepseek-chat"))));
    }
}
