package io.caravan.provider.anthropic;

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

class AnthropicAdapterTest {

    private final AnthropicAdapter adapter = new AnthropicAdapter();
    private final ProviderSpec anthropic = Fixtures.provider("anthropic", "anthropic", "https://api.anthropic.com");
    private final DeploymentSpec sonnet = Fixtures.deployment("anthropic", "claude-sonnet-4-5", 8192,
            new Price(3.00, 0.30, 15.00));

    @Test
    void isFoundByServiceLoader() {
        assertThat(ProviderAdapters.forApi("anthropic")).isInstanceOf(AnthropicAdapter.class);
    }

    @Test
    void endpointAndHeaders() {
        assertThat(adapter.endpoint(anthropic, sonnet)).isEqualTo("https://api.anthropic.com/v1/messages");
        assertThat(adapter.endpoint(Fixtures.provider("a", "anthropic", "https://api.anthropic.com/v1/"), sonnet))
                .isEqualTo("https://api.anthropic.com/v1/messages");
        assertThat(adapter.endpoint(Fixtures.provider("a", "anthropic", null), sonnet))
                .isEqualTo("https://api.anthropic.com/v1/messages");
        assertThat(adapter.requestHeaders(anthropic, KEY)).containsEntry("x-api-key", KEY)
                .containsEntry("anthropic-version", "2023-06-01")
                .containsEntry("Content-Type", "application/json")
                .doesNotContainKey("Authorization");
    }

    @Test
    void mapsSystemMergesTurnsAndParams() {
        var request = Fixtures.request("""
                [{"role":"system","content":"You are terse."},
                 {"role":"user","content":"Hi"},
                 {"role":"user","content":[{"type":"text","text":"Again"}]},
                 {"role":"assistant","content":"Hello"},
                 {"role":"system","content":"Be kind."},
                 {"role":"user","content":"Bye"}]""", """
                {"temperature":1.7,"top_p":0.9,"stop":"END","seed":3,"top_k":5}""");
        JsonNode body = json(adapter.requestBody(request, anthropic, sonnet));
        assertThat(body).isEqualTo(json("""
                {"model":"claude-sonnet-4-5","max_tokens":8192,
                 "system":"You are terse.\\n\\nBe kind.",
                 "messages":[{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":"Again"}]},
                             {"role":"assistant","content":[{"type":"text","text":"Hello"}]},
                             {"role":"user","content":[{"type":"text","text":"Bye"}]}],
                 "temperature":1.0,"stop_sequences":["END"],"top_k":5}"""));
    }

    @Test
    void maxTokensFromParamsElseDefault() {
        var withParam = Fixtures.request("[{\"role\":\"user\",\"content\":\"x\"}]", "{\"max_tokens\":100,\"top_p\":0.5}");
        JsonNode body = json(adapter.requestBody(withParam, anthropic, sonnet));
        assertThat(body.get("max_tokens").asInt()).isEqualTo(100);
        assertThat(body.get("top_p").asDouble()).isEqualTo(0.5);
        DeploymentSpec bare = Fixtures.deployment("anthropic", "claude-haiku-4-5", null, null);
        assertThat(json(adapter.requestBody(Fixtures.request("[{\"role\":\"user\",\"content\":\"x\"}]", null),
                anthropic, bare)).get("max_tokens").asInt()).isEqualTo(4096);
    }

    @Test
    void mapsToolsToolCallsAndToolResults() {
        var request = Fixtures.request("""
                [{"role":"user","content":"Weather in Paris and Rome?"},
                 {"role":"assistant","content":null,"tool_calls":[
                   {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}},
                   {"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Rome\\"}"}}]},
                 {"role":"tool","tool_call_id":"toolu_1","content":"18C"},
                 {"role":"tool","tool_call_id":"toolu_2","content":"24C"}]""", """
                {"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather",
                           "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
                 "tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false}""");
        JsonNode body = json(adapter.requestBody(request, anthropic, sonnet));
        assertThat(body.get("tools")).isEqualTo(json("""
                [{"name":"get_weather","description":"Current weather",
                  "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]"""));
        assertThat(body.get("tool_choice")).isEqualTo(json(
                "{\"type\":\"tool\",\"name\":\"get_weather\",\"disable_parallel_tool_use\":true}"));
        assertThat(body.get("messages")).isEqualTo(json("""
                [{"role":"user","content":[{"type":"text","text":"Weather in Paris and Rome?"}]},
                 {"role":"assistant","content":[
                   {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
                   {"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome"}}]},
                 {"role":"user","content":[
                   {"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},
                   {"type":"tool_result","tool_use_id":"toolu_2","content":"24C"}]}]"""));
    }

    @Test
    void mapsToolChoiceWords() {
        String tools = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]";
        for (String[] c : new String[][] {{"auto", "auto"}, {"required", "any"}, {"none", "none"}}) {
            JsonNode body = json(adapter.requestBody(Fixtures.request("[{\"role\":\"user\",\"content\":\"x\"}]",
                    "{" + tools + ",\"tool_choice\":\"" + c[0] + "\"}"), anthropic, sonnet));
            assertThat(body.at("/tool_choice/type").asText()).isEqualTo(c[1]);
            assertThat(body.at("/tools/0/input_schema/type").asText()).isEqualTo("object");
        }
    }

    @Test
    void responseFormatBecomesSystemInstruction() {
        JsonNode body = json(adapter.requestBody(Fixtures.request("[{\"role\":\"user\",\"content\":\"x\"}]", """
                {"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object",
                 "properties":{"a":{"type":"integer"}}}}}}"""), anthropic, sonnet));
        assertThat(body.get("system").asText()).contains("valid JSON").contains("\"properties\":{\"a\"");
        JsonNode plain = json(adapter.requestBody(Fixtures.request(
                "[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"x\"}]",
                "{\"response_format\":{\"type\":\"json_object\"}}"), anthropic, sonnet));
        assertThat(plain.get("system").asText()).startsWith("S\n\nRespond with a single valid JSON object");
    }

    @Test
    void readsTextAnswerAndCacheUsageAndPricesIt() {
        ProviderReply reply = adapter.readResponse(200, Map.of(), bytes("""
                {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
                 "content":[{"type":"text","text":"Hello"},{"type":"text","text":" world"}],
                 "stop_reason":"end_turn","stop_sequence":null,
                 "usage":{"input_tokens":100,"cache_creation_input_tokens":200,"cache_read_input_tokens":1000,
                          "output_tokens":50}}"""), sonnet);
        assertThat(reply.message()).isEqualTo(json("{\"role\":\"assistant\",\"content\":\"Hello world\"}"));
        assertThat(reply.finishReason()).isEqualTo("stop");
        assertThat(reply.usage().input()).isEqualTo(1300);
        assertThat(reply.usage().cachedInput()).isEqualTo(1000);
        assertThat(reply.usage().cacheWrite()).isEqualTo(200);
        assertThat(reply.usage().output()).isEqualTo(50);
        double cost = sonnet.price().cost(reply.usage().input(), reply.usage().cachedInput(), reply.usage().output());
        assertThat(cost).isCloseTo((300 * 3.00 + 1000 * 0.30 + 50 * 15.00) / 1e6, Offset.offset(1e-12));
    }

    @Test
    void readsToolUse() {
        ProviderReply reply = adapter.readResponse(200, Map.of(), bytes("""
                {"id":"msg_02","type":"message","role":"assistant","model":"claude-sonnet-4-5",
                 "content":[{"type":"text","text":"Let me check."},
                            {"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"city":"Paris"}}],
                 "stop_reason":"tool_use","usage":{"input_tokens":400,"output_tokens":60}}"""), sonnet);
        assertThat(reply.finishReason()).isEqualTo("tool_calls");
        assertThat(reply.message().get("content").asText()).isEqualTo("Let me check.");
        JsonNode call = reply.message().at("/tool_calls/0");
        assertThat(call.get("id").asText()).isEqualTo("toolu_01A");
        assertThat(call.get("type").asText()).isEqualTo("function");
        assertThat(call.at("/function/name").asText()).isEqualTo("get_weather");
        assertThat(json(call.at("/function/arguments").asText())).isEqualTo(json("{\"city\":\"Paris\"}"));
        assertThat(reply.usage().input()).isEqualTo(400);
        assertThat(reply.usage().cachedInput()).isZero();
    }

    @Test
    void stopReasons() {
        assertThat(AnthropicAdapter.finishReason("max_tokens", false)).isEqualTo("length");
        assertThat(AnthropicAdapter.finishReason("stop_sequence", false)).isEqualTo("stop");
        assertThat(AnthropicAdapter.finishReason("end_turn", false)).isEqualTo("stop");
        assertThat(AnthropicAdapter.finishReason("refusal", false)).isEqualTo("content_filter");
    }

    @Test
    void malformedSuccessIsServerError() {
        for (String body : new String[] {"not json", "{\"type\":\"message\"}", "\"text\""}) {
            ProviderError e = failure(adapter, 200, Map.of(), body, sonnet);
            assertThat(e.errorClass()).isEqualTo(ErrorClass.SERVER_ERROR);
            assertThat(e.getMessage()).startsWith("malformed response");
        }
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource(delimiter = '|', textBlock = """
            529 | overloaded_error      | SERVER_ERROR    | Overloaded
            429 | rate_limit_error      | RATE_LIMITED    | This request would exceed the rate limit for your organization of 50,000 input tokens per minute.
            429 | rate_limit_error      | QUOTA_EXHAUSTED | You have reached your specified workspace API spend limit.
            402 | billing_error         | QUOTA_EXHAUSTED | Your account has a billing issue.
            400 | invalid_request_error | QUOTA_EXHAUSTED | Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.
            401 | authentication_error  | AUTH            | invalid x-api-key
            403 | permission_error      | AUTH            | Your API key does not have permission to use the specified resource.
            404 | not_found_error       | MODEL_NOT_FOUND | model: claude-9
            400 | invalid_request_error | CONTEXT_WINDOW  | prompt is too long: 215000 tokens > 200000 maximum
            400 | invalid_request_error | CONTEXT_WINDOW  | input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000
            400 | invalid_request_error | BAD_REQUEST     | messages: text content blocks must be non-empty
            413 | request_too_large     | CONTEXT_WINDOW  | Request exceeds the maximum allowed number of bytes.
            500 | api_error             | SERVER_ERROR    | Internal server error
            504 | timeout_error         | SERVER_ERROR    | Request timed out
            """)
    void classifiesErrors(int status, String type, ErrorClass expected, String text) {
        String body = "{\"type\":\"error\",\"error\":{\"type\":\"" + type + "\",\"message\":\"" + text
                + "\"},\"request_id\":\"req_1\"}";
        ProviderError e = failure(adapter, status, Map.of("retry-after", "12"), body, sonnet);
        assertThat(e.errorClass()).isEqualTo(expected);
        assertThat(e.status()).isEqualTo(status);
        assertThat(e.getMessage()).startsWith("anthropic " + status + " " + type);
        if (expected == ErrorClass.RATE_LIMITED || expected == ErrorClass.SERVER_ERROR) {
            assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(12));
        } else {
            assertThat(e.retryAfter()).isNull();
        }
    }

    @Test
    void nonJsonErrorBodyIsClassifiedByStatus() {
        ProviderError e = failure(adapter, 502, Map.of(), "<html>Bad Gateway</html>", sonnet);
        assertThat(e.errorClass()).isEqualTo(ErrorClass.SERVER_ERROR);
        assertThat(e.getMessage()).contains("Bad Gateway");
    }
}
