package io.caravan.provider;

import static io.caravan.provider.Fixtures.KEY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.anthropic.AnthropicAdapter;
import io.caravan.provider.gemini.GeminiAdapter;
import io.caravan.provider.openai.OpenAiAdapter;
import io.caravan.resilience.ProviderError;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The key goes into exactly one request header and nowhere else: not the URL, the body, other headers or errors. */
class KeyHygieneTest {

    static Stream<Arguments> adapters() {
        return Stream.of(
                Arguments.of(new OpenAiAdapter(), "Authorization", "https://api.deepseek.com/v1"),
                Arguments.of(new AnthropicAdapter(), "x-api-key", "https://api.anthropic.com"),
                Arguments.of(new GeminiAdapter(), "x-goog-api-key", "https://generativelanguage.googleapis.com"));
    }

    @ParameterizedTest
    @MethodSource("adapters")
    void keyOnlyInTheAuthHeader(ProviderAdapter adapter, String authHeader, String baseUrl) {
        // extra headers that try to take over the auth header must not win
        ProviderSpec provider = Fixtures.provider("p", adapter.api(), baseUrl,
                Map.of(authHeader.toLowerCase(), "stolen", "X-Trace", "t"), Map.of());
        DeploymentSpec deployment = Fixtures.deployment("p", "some-model", 1024, null);
        ChatRequest request = Fixtures.request("""
                [{"role":"system","content":"s"},{"role":"user","content":"hello"},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
                   "function":{"name":"f","arguments":"{}"}}]},
                 {"role":"tool","tool_call_id":"c1","content":"ok"}]""",
                "{\"max_tokens\":10,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}");

        assertThat(adapter.endpoint(provider, deployment)).doesNotContain(KEY);
        assertThat(new String(adapter.requestBody(request, provider, deployment), StandardCharsets.UTF_8))
                .doesNotContain(KEY);
        Map<String, String> headers = adapter.requestHeaders(provider, KEY);
        List<String> carrying = headers.entrySet().stream().filter(e -> e.getValue().contains(KEY))
                .map(Map.Entry::getKey).toList();
        assertThat(carrying).containsExactly(authHeader);
        assertThat(headers).containsEntry("X-Trace", "t").doesNotContainValue("stolen");
    }

    @ParameterizedTest
    @MethodSource("adapters")
    void errorsNeverEchoAKey(ProviderAdapter adapter, String authHeader, String baseUrl) {
        DeploymentSpec deployment = Fixtures.deployment("p", "some-model", 1024, null);
        String[] bodies = {
            "{\"error\":{\"message\":\"Incorrect API key provided: " + KEY + "\",\"type\":\"authentication_error\","
                    + "\"code\":\"invalid_api_key\",\"status\":\"UNAUTHENTICATED\"}}",
            "<html>bad key " + KEY + " Authorization: Bearer " + KEY + "</html>",
            "{\"error\":{\"message\":\"API key not valid: AIzaSyA-1234567890abcdefghijklmnop\",\"status\":\"INVALID_ARGUMENT\"}}",
        };
        for (int status : new int[] {200, 400, 401, 429, 500}) {
            for (String body : bodies) {
                Throwable t = catchThrowable(() -> adapter.readResponse(status, Map.of(),
                        body.getBytes(StandardCharsets.UTF_8), deployment));
                assertThat(t).isInstanceOf(ProviderError.class);
                assertThat(t.getMessage()).doesNotContain(KEY).doesNotContain("AIzaSyA-1234567890");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("adapters")
    void oddBodiesNeverCrash(ProviderAdapter adapter, String authHeader, String baseUrl) {
        DeploymentSpec deployment = Fixtures.deployment("p", "some-model", 1024, null);
        String[] bodies = {"", "null", "42", "[]", "[1]", "{\"error\":null}", "{\"error\":[1]}", "{\"choices\":[1]}",
            "{\"choices\":[{\"message\":7}]}", "{\"content\":[1,{\"type\":\"tool_use\"}]}", "{\"candidates\":[7]}",
            "{\"candidates\":[{\"content\":{\"parts\":[1,{\"functionCall\":null}]}}]}", "\u0000\u00ff", "{\"a\":"};
        for (int status : new int[] {200, 201, 302, 400, 429, 503, 529}) {
            for (String body : bodies) {
                Throwable t = catchThrowable(() -> adapter.readResponse(status, null,
                        body.getBytes(StandardCharsets.UTF_8), deployment));
                assertThat(t).as("%s %s", status, body).satisfiesAnyOf(
                        x -> assertThat(x).isNull(), x -> assertThat(x).isInstanceOf(ProviderError.class));
            }
        }
    }
}
