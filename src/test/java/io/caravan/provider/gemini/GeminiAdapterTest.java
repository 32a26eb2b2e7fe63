package io.caravan.provider.gemini;

import static io.caravan.provider.Fixtures.KEY;
import static io.caravan.provider.Fixtures.bytes;
import static io.caravan.provider.Fixtures.failure;
import static io.caravan.provider.Fixtures.json;
import static org.assertj.core.api.Assertions.assertThat;

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
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GeminiAdapterTest {

    private final GeminiAdapter adapter = new GeminiAdapter();
    private final ProviderSpec google = Fixtures.provider("google", "gemini", "https://generativelanguage.googleapis.com/");
    private final DeploymentSpec flash = Fixtures.deployment("google", "gemini-2.5-flash", 8192,
            new Price(0.30, 0.075, 2.50));

    @Test
    void isFoundByServiceLoader() {
        assertThat(ProviderAdapters.forApi("gemini")).isInstanceOf(GeminiAdapter.class);
        assertThat(ProviderAdapters.apis()).contains("openai", "anthropic", "gemini");
    }

    @Test
    void endpointAndHeaders() {
        assertThat(adapter.endpoint(google, flash))
                .isEqualTo("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent");
        assertThat(adapter.endpoint(Fixtures.provider("g", "gemini", "https://generativelanguage.googleapis.com/v1beta"), flash))
                .isEqualTo("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent");
        DeploymentSpec prefixed = Fixtures.deployment("google", "models/gemini-2.5-pro", null, null);
        assertThat(adapter.endpoint(google, prefixed)).endsWith("/v1beta/models/gemini-2.5-pro:generateContent");
        assertThat(adapter.requestHeaders(google, KEY)).containsEntry("x-goog-api-key", KEY)
                .containsEntry("Content-Type", "application/json")
                .doesNotContainKey("Authorization");
    }

    @Test
    void mapsRolesSystemAndGenerationConfig() {
        var request = Fixtures.request("""
                [{"role":"system","content":"You are terse."},
                 {"role":"user","content":"Hi"},
                 {"role":"assistant","content":"Hello"},
                 {"role":"user","content":[{"type":"text","text":"List two colours"}]}]""", """
                {"max_tokens":256,"temperature":0.2,"top_p":0.9,"stop":["END"],
                 "response_format":{"type":"json_schema","json_schema":{"name":"c","strict":true,"schema":{
                   "type":"object","additionalProperties":false,"$schema":"x",
                   "properties":{"colours":{"type":"array","items":{"type":"string","format":"color"}},
                                 "note":{"type":["string","null"]}},
                   "required":["colours"]}}}}""");
        JsonNode body = json(adapter.requestBody(request, google, flash));
        assertThat(body).isEqualTo(json("""
                {"systemInstruction":{"parts":[{"text":"You are terse."}]},
                 "contents":[{"role":"user","parts":[{"text":"Hi"}]},
                             {"role":"model","parts":[{"text":"Hello"}]},
                             {"role":"user","parts":[{"text":"List two colours"}]}],
                 "generationConfig":{"maxOutputTokens":256,"temperature":0.2,"topP":0.9,"stopSequences":["END"],
                   "responseMimeType":"application/json",
                   "responseSchema":{"type":"object",
                     "properties":{"colours":{"type":"array","items":{"type":"string"}},
                                   "note":{"nullable":true,"type":"string"}},
                     "required":["colours"]}}}"""));
    }

    @Test
    void mapsToolsToolCallsAndToolResponses() {
        var request = Fixtures.request("""
                [{"role":"user","content":"Weather in Paris?"},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"call_0","type":"function",
                   "function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"},
                   "extra_content":{"google":{"thought_signature":"sig=="}}}]},
                 {"role":"tool","tool_call_id":"call_0","content":"18C and sunny"},
                 {"role":"user","content":"Thanks"}]""", """
                {"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather",
                   "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],
                                 "additionalProperties":false}}},
                          {"type":"function","function":{"name":"now","parameters":{"type":"object","properties":{}}}}],
                 "tool_choice":{"type":"function","function":{"name":"get_weather"}}}""");
        JsonNode body = json(adapter.requestBody(request, google, flash));
        assertThat(body.get("contents")).isEqualTo(json("""
                [{"role":"user","parts":[{"text":"Weather in Paris?"}]},
                 {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},
                                           "thoughtSignature":"sig=="}]},
                 {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"result":"18C and sunny"}}},
                                         {"text":"Thanks"}]}]"""));
        assertThat(body.get("tools")).isEqualTo(json("""
                [{"functionDeclarations":[
                   {"name":"get_weather","description":"Current weather",
                    "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
                   {"name":"now"}]}]"""));
        assertThat(body.get("toolConfig")).isEqualTo(json(
                "{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"get_weather\"]}}"));
        assertThat(body.has("generationConfig")).isFalse();
    }

    @Test
    void mapsToolChoiceWords() {
        String tools = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]";
        for (String[] c : new String[][] {{"auto", "AUTO"}, {"required", "ANY"}, {"none", "NONE"}}) {
            JsonNode body = json(adapter.requestBody(Fixtures.request("[{\"role\":\"user\",\"content\":\"x\"}]",
                    "{" + tools + ",\"tool_choice\":\"" + c[0] + "\"}"), google, flash));
            assertThat(body.at("/toolConfig/functionCallingConfig/mode").asText()).isEqualTo(c[1]);
        }
    }

    @Test
    void readsTextAnswerWithCachedAndThinkingTokensAndPricesThem() {
        ProviderReply reply = adapter.readResponse(200, Map.of(), bytes("""
                {"candidates":[{"content":{"parts":[{"text":"thinking...","thought":true},{"text":"Red"},{"text":" and blue"}],
                   "role":"model"},"finishReason":"STOP","index":0}],
                 "usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":40,"totalTokenCount":1340,
                   "cachedContentTokenCount":1000,"thoughtsTokenCount":100},
                 "modelVersion":"gemini-2.5-flash","responseId":"abc"}"""), flash);
        assertThat(reply.message()).isEqualTo(json("{\"role\":\"assistant\",\"content\":\"Red and blue\"}"));
        assertThat(reply.finishReason()).isEqualTo("stop");
        assertThat(reply.usage().input()).isEqualTo(1200);
        assertThat(reply.usage().cachedInput()).isEqualTo(1000);
        assertThat(reply.usage().output()).isEqualTo(140);
        double cost = flash.price().cost(reply.usage().input(), reply.usage().cachedInput(), reply.usage().output());
        assertThat(cost).isCloseTo((200 * 0.30 + 1000 * 0.075 + 140 * 2.50) / 1e6, Offset.offset(1e-12));
    }

    @Test
    void readsFunctionCalls() {
        ProviderReply reply = adapter.readResponse(200, Map.of(), bytes("""
                {"candidates":[{"content":{"role":"model","parts":[
                   {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"sig=="},
                   {"functionCall":{"name":"get_weather","args":{"city":"Rome"}}}]},
                   "finishReason":"STOP"}],
                 "usageMetadata":{"promptTokenCount":50,"candidatesTokenCount":20,"totalTokenCount":70}}"""), flash);
        assertThat(reply.finishReason()).isEqualTo("tool_calls");
        assertThat(reply.message().get("content").isNull()).isTrue();
        assertThat(reply.message().get("tool_calls")).isEqualTo(json("""
                [{"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"},
                  "extra_content":{"google":{"thought_signature":"sig=="}}},
                 {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Rome\\"}"}}]"""));
        assertThat(reply.usage().cachedInput()).isZero();
    }

    @Test
    void maxTokensIsLength() {
        ProviderReply reply = adapter.readResponse(200, Map.of(), bytes("""
                {"candidates":[{"content":{"role":"model","parts":[{"text":"Once upon"}]},"finishReason":"MAX_TOKENS"}]}"""),
                flash);
        assertThat(reply.finishReason()).isEqualTo("length");
        assertThat(reply.usage().input()).isZero();
    }

    @Test
    void safetyBlocksAreClearErrors() {
        ProviderError answer = failure(adapter, 200, Map.of(), """
                {"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[
                  {"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]}]}""", flash);
        assertThat(answer.errorClass()).isEqualTo(ErrorClass.BAD_REQUEST);
        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.getMessage()).isEqualTo("gemini blocked the answer: SAFETY");
        ProviderError prompt = failure(adapter, 200, Map.of(), """
                {"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":9}}""", flash);
        assertThat(prompt.errorClass()).isEqualTo(ErrorClass.BAD_REQUEST);
        assertThat(prompt.getMessage()).contains("PROHIBITED_CONTENT");
    }

    @Test
    void malformedSuccessIsServerError() {
        for (String body : new String[] {"<html/>", "{}", "{\"candidates\":[]}", "null"}) {
            ProviderError e = failure(adapter, 200, Map.of(), body, flash);
            assertThat(e.errorClass()).isEqualTo(ErrorClass.SERVER_ERROR);
            assertThat(e.getMessage()).startsWith("malformed response");
        }
    }

    @Test
    void rateLimitWaitsForRetryInfo() {
        ProviderError e = failure(adapter, 429, Map.of("Retry-After", "99"), """
                {"error":{"code":429,"message":"You exceeded your current quota. Please retry in 32.5s.","status":"RESOURCE_EXHAUSTED",
                  "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[
                      {"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests",
                       "quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                       "quotaDimensions":{"location":"global","model":"gemini-2.5-flash"},"quotaValue":"10"}]},
                    {"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more","url":"https://ai.google.dev"}]},
                    {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"32s"}]}}""", flash);
        assertThat(e.errorClass()).isEqualTo(ErrorClass.RATE_LIMITED);
        assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(32));
        assertThat(e.getMessage()).startsWith("gemini 429 RESOURCE_EXHAUSTED:");
        assertThat(GeminiAdapter.protoDuration("1.5s")).isEqualTo(Duration.ofMillis(1500));
        assertThat(GeminiAdapter.protoDuration("soon")).isNull();
    }

    @Test
    void rateLimitWithoutRetryInfoUsesHeader() {
        ProviderError e = failure(adapter, 429, Map.of("Retry-After", "5"),
                "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\",\"status\":\"RESOURCE_EXHAUSTED\"}}", flash);
        assertThat(e.errorClass()).isEqualTo(ErrorClass.RATE_LIMITED);
        assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void perDayQuotaIsExhausted() {
        ProviderError e = failure(adapter, 429, Map.of(), """
                {"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED",
                  "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[
                      {"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests",
                       "quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier","quotaValue":"250"}]},
                    {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"11s"}]}}""", flash);
        assertThat(e.errorClass()).isEqualTo(ErrorClass.QUOTA_EXHAUSTED);
        assertThat(e.retryAfter()).isNull();
        ProviderError zero = failure(adapter, 429, Map.of(), """
                {"error":{"code":429,"message":"Quota exceeded, limit: 0","status":"RESOURCE_EXHAUSTED",
                  "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[
                      {"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaValue":"0"}]}]}}""", flash);
        assertThat(zero.errorClass()).isEqualTo(ErrorClass.QUOTA_EXHAUSTED);
    }

    @Test
    void invalidKeyIsAuthEvenAsBadRequest() {
        ProviderError e = failure(adapter, 400, Map.of(), """
                {"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
                  "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID",
                              "domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}""", flash);
        assertThat(e.errorClass()).isEqualTo(ErrorClass.AUTH);
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource(delimiter = '|', textBlock = """
            400 | INVALID_ARGUMENT    | CONTEXT_WINDOW  | The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).
            400 | INVALID_ARGUMENT    | BAD_REQUEST     | Invalid JSON payload received. Unknown name "foo": Cannot find field.
            400 | FAILED_PRECONDITION | QUOTA_EXHAUSTED | Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.
            401 | UNAUTHENTICATED     | AUTH            | Request had invalid authentication credentials.
            403 | PERMISSION_DENIED   | AUTH            | Method doesn't allow unregistered callers.
            404 | NOT_FOUND           | MODEL_NOT_FOUND | models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.
            500 | INTERNAL            | SERVER_ERROR    | An internal error has occurred.
            503 | UNAVAILABLE         | SERVER_ERROR    | The model is overloaded. Please try again later.
            504 | DEADLINE_EXCEEDED   | SERVER_ERROR    | Deadline expired before operation could complete.
            """)
    void classifiesErrors(int status, String grpc, ErrorClass expected, String text) {
        String body = "{\"error\":{\"code\":" + status + ",\"message\":\"" + text.replace("\"", "\\\"")
                + "\",\"status\":\"" + grpc + "\"}}";
        ProviderError e = failure(adapter, status, Map.of("Retry-After", "3"), body, flash);
        assertThat(e.errorClass()).isEqualTo(expected);
        assertThat(e.status()).isEqualTo(status);
        assertThat(e.getMessage()).startsWith("gemini " + status + " " + grpc);
        assertThat(e.retryAfter()).isEqualTo(expected == ErrorClass.SERVER_ERROR ? Duration.ofSeconds(3) : null);
    }
}
