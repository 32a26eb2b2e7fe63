package io.caravan.provider.openai;

import static io.caravan.provider.Fixtures.KEY;
import static io.caravan.provider.Fixtures.bytes;
import static io.caravan.provider.Fixtures.failure;
import static io.caravan.provider.Fixtures.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.Fixtures;
import io.caravan.provider.ProviderAdapters;
import io.caravan.provider.ProviderReply;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OpenAiAdapterTest {

    private final OpenAiAdapter adapter = new OpenAiAdapter();
    private final ProviderSpec moonshot = Fixtures.provider("moonshot", "openai", "https://api.moonshot.ai/v1/",
            Map.of("X-Extra", "1", "authorization", "Bearer other"), Map.of());
    private final DeploymentSpec kimi = Fixtures.deployment("moonshot", "kimi-k2-0905-preview", 8192,
            new Price(0.60, 0.15, 2.50));

    @Test
    void isFoundByServiceLoader() {
        assertThat(ProviderAdapters.forApi("openai")).isInstanceOf(OpenAiAdapter.class);
    }

    @Test
    void endpointAndHeaders() {
        assertThat(adapter.endpoint(moonshot, kimi)).isEqualTo("https://api.moonshot.ai/v1/chat/completions");
        assertThat(adapter.endpoint(Fixtures.provider("q", "openai",
                "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions"), kimi))
                .isEqualTo("https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions");
        Map<String, String> headers = adapter.requestHeaders(moonshot, KEY);
        assertThat(headers).containsEntry("Authorization", "Bearer " + KEY)
                .containsEntry("Content-Type", "application/json")
                .containsEntry("X-Extra", "1")
                .doesNotContainKey("authorization");
    }

    @Test
    void bodyCarriesModelMessagesAndEveryParam() {
        var request = Fixtures.request("""
                [{"role":"system","content":"You are terse."},{"role":"user","content":"Hi"}]""", """
                {"max_tokens":512,"temperature":0.2,"top_p":0.9,"stop":["END"],"response_format":{"type":"json_object"},
                 "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
                 "tool_choice":"auto","seed":7,"stream":true,"model":"gpt-evil"}""");
        JsonNode body = json(adapter.requestBody(request, moonshot, kimi));
        assertThat(body).isEqualTo(json("""
                {"model":"kimi-k2-0905-preview",
                 "messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hi"}],
                 "max_tokens":512,"temperature":0.2,"top_p":0.9,"stop":["END"],"response_format":{"type":"json_object"},
                 "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
                 "tool_choice":"auto","seed":7}"""));
        assertThat(request.params().has("stream")).as("request not modified").isTrue();
    }

    @Test
    void reasoningModelsGetMaxCompletionTokensWhenConfigured() {
        ProviderSpec openai = Fixtures.provider("openai", "openai", "https://api.openai.com/v1", Map.of(),
                Map.of("max_tokens_param", "max_completion_tokens"));
        JsonNode body = json(adapter.requestBody(Fixtures.request("[{\"role\":\"user\",\"content\":\"x\"}]",
                "{\"max_tokens\":100}"), openai, kimi));
        assertThat(body.get("max_completion_tokens").asInt()).isEqualTo(100);
        assertThat(body.has("max_tokens")).isFalse();
    }

    @Test
    void readsTextAnswerWithOpenAiCachedTokensAndPricesThem() {
        ProviderReply reply = adapter.readResponse(200, Map.of(), bytes("""
                {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},
                             "logprobs":null,"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":2000,"completion_tokens":100,"total_tokens":2100,
                          "prompt_tokens_details":{"cached_tokens":1500,"audio_tokens":0},
                          "completion_tokens_details":{"reasoning_tokens":0}}}"""), kimi);
        assertThat(reply.message()).isEqualTo(json("{\"role\":\"assistant\",\"content\":\"Hello!\"}"));
        assertThat(reply.finishReason()).isEqualTo("stop");
        assertThat(reply.usage().input()).isEqualTo(2000);
        assertThat(reply.usage().cachedInput()).isEqualTo(1500);
        assertThat(reply.usage().output()).isEqualTo(100);
        double cost = kimi.price().cost(reply.usage().input(), reply.usage().cachedInput(), reply.usage().output());
        assertThat(cost).isCloseTo((500 * 0.60 + 1500 * 0.15 + 100 * 2.50) / 1e6, org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void readsToolCall() {
        ProviderReply reply = adapter.readResponse(200, Map.of(), bytes("""
                {"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,
                  "tool_calls":[{"id":"call_abc","type":"function",
                                 "function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]}}],
                 "usage":{"prompt_tokens":80,"completion_tokens":20,"total_tokens":100}}"""), kimi);
        assertThat(reply.finishReason()).isEqualTo("tool_calls");
        assertThat(reply.message().get("content").isNull()).isTrue();
        assertThat(reply.message().at("/tool_calls/0/function/name").asText()).isEqualTo("get_weather");
        assertThat(json(reply.message().at("/tool_calls/0/function/arguments").asText()).get("city").asText())
                .isEqualTo("Paris");
        assertThat(reply.usage().cachedInput()).isZero();
    }

    @Test
    void malformedSuccessIsServerError() {
        for (String body : new String[] {"<html>bad gateway</html>", "", "[1,2]", "{\"choices\":[]}", "{\"foo\":1}"}) {
            ProviderError e = failure(adapter, 200, Map.of(), body, kimi);
            assertThat(e.errorClass()).isEqualTo(ErrorClass.SERVER_ERROR);
            assertThat(e.status()).isEqualTo(200);
            assertThat(e.getMessage()).startsWith("malformed response");
        }
        assertThatThrownBy(() -> adapter.readResponse(200, Map.of(), null, kimi)).isInstanceOf(ProviderError.class);
    }

    @ParameterizedTest(name = "{0} {1} -> {3}")
    @CsvSource(delimiter = '|', textBlock = """
            429 | OpenAI rate limit  | {"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000. Visit https://platform.openai.com/account/billing to add a payment method.","type":"tokens","param":null,"code":"rate_limit_exceeded"}} | RATE_LIMITED
            429 | OpenAI quota       | {"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}} | QUOTA_EXHAUSTED
            429 | credit wording     | {"error":{"message":"Your credit balance is too low.","type":"error"}} | QUOTA_EXHAUSTED
            401 | OpenAI bad key     | {"error":{"message":"Incorrect API key provided: sk-proj-********abcd. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}} | AUTH
            403 | forbidden          | {"error":{"message":"Country, region, or territory not supported","type":"request_forbidden","code":"unsupported_country_region_territory"}} | AUTH
            404 | OpenAI model       | {"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}} | MODEL_NOT_FOUND
            400 | OpenAI context     | {"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}} | CONTEXT_WINDOW
            400 | DeepSeek context   | {"error":{"message":"This model's maximum context length is 65536 tokens. However, you requested 70000 tokens.","type":"invalid_request_error","param":null,"code":"invalid_request_error"}} | CONTEXT_WINDOW
            400 | bad param          | {"error":{"message":"Invalid value for 'temperature': must be <= 2.","type":"invalid_request_error","param":"temperature","code":"invalid_value"}} | BAD_REQUEST
            422 | DeepSeek params    | {"error":{"message":"Failed to deserialize the JSON body into the target type","type":"invalid_request_error"}} | BAD_REQUEST
            413 | gateway too large  | <html><body>413 Request Entity Too Large</body></html> | BAD_REQUEST
            408 | timeout            | {"error":{"message":"Request timed out","type":"timeout"}} | TIMEOUT
            500 | server             | {"error":{"message":"The server had an error while processing your request.","type":"server_error"}} | SERVER_ERROR
            502 | gateway            | <html>502 Bad Gateway</html> | SERVER_ERROR
            503 | DeepSeek overload  | {"error":{"message":"Server overloaded","type":"server_error"}} | SERVER_ERROR
            504 | gateway timeout    | upstream request timeout | SERVER_ERROR
            529 | overloaded         | {"error":{"message":"overloaded","type":"overloaded_error"}} | SERVER_ERROR
            """)
    void classifiesErrors(int status, String what, String body, ErrorClass expected) {
        ProviderError e = failure(adapter, status, Map.of("Retry-After", "7"), body, kimi);
        assertThat(e.errorClass()).as(what).isEqualTo(expected);
        assertThat(e.status()).isEqualTo(status);
        assertThat(e.getMessage()).startsWith("openai " + status).doesNotContain("sk-proj");
        if (expected == ErrorClass.RATE_LIMITED || expected == ErrorClass.SERVER_ERROR) {
            assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(7));
        } else if (expected != ErrorClass.TIMEOUT) {
            assertThat(e.retryAfter()).isNull();
        }
    }

    @Test
    void rateLimitWithoutRetryAfterHasNoWait() {
        ProviderError e = failure(adapter, 429, Map.of(), "{\"error\":{\"message\":\"slow down\"}}", kimi);
        assertThat(e.errorClass()).isEqualTo(ErrorClass.RATE_LIMITED);
        assertThat(e.retryAfter()).isNull();
        ProviderError ms = failure(adapter, 429, Map.of("retry-after-ms", "1200"), "{}", kimi);
        assertThat(ms.retryAfter()).isEqualTo(Duration.ofMillis(1200));
    }
}
