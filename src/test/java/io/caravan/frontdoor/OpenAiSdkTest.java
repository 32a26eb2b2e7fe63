package io.caravan.frontdoor;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.errors.UnauthorizedException;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The official OpenAI Java SDK, unmodified, pointed at Caravan (base URL .../v1), with WireMock upstreams. */
class OpenAiSdkTest {

    static WireMockServer upstream;
    static Caravan caravan;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/oai/v1/chat/completions"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("plain hello", 40, 0, 9))));
        upstream.stubFor(post(urlEqualTo("/oai/v1/chat/completions"))
                .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
                        .withBody(FrontDoorFixtures.openAiStream(11, 7, "Hello", ", stream", "ing ", "world"))));
        upstream.stubFor(post(urlEqualTo("/limited/v1/chat/completions"))
                .willReturn(aResponse().withStatus(429).withHeader("Content-Type", "application/json")
                        .withHeader("Retry-After", "0")
                        .withBody(Upstreams.error("Rate limit reached", "requests", "rate_limit_exceeded"))));
        upstream.stubFor(post(urlEqualTo("/anthropic/v1/messages"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("""
                        {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
                         "content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],
                         "stop_reason":"tool_use","usage":{"input_tokens":300,"output_tokens":40}}
                        """)));
        upstream.stubFor(post(urlEqualTo("/anthropic/v1/messages"))
                .withRequestBody(matchingJsonPath("$.stream", equalTo("true")))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
                        .withBody(ChatStreamingHttpTest.ANTHROPIC_STREAM)));
        caravan = Caravan.start(FrontDoorFixtures.catalog(upstream), Map.of(),
                Map.of("caravan.http.api-keys", FrontDoorFixtures.KEY));
        client = client(FrontDoorFixtures.KEY);
    }

    static OpenAIClient client(String key) {
        return OpenAIOkHttpClient.builder()
                .baseUrl("http://127.0.0.1:" + caravan.httpPort + "/v1")
                .apiKey(key)
                .maxRetries(0)
                .timeout(Duration.ofSeconds(30))
                .build();
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
    }

    @Test
    void aPlainCall() {
        HttpResponseFor<ChatCompletion> raw = client.chat().completions().withRawResponse().create(
                ChatCompletionCreateParams.builder().model("gpt").addUserMessage("Say hello").maxTokens(20).build());
        ChatCompletion completion = raw.parse();
        assertThat(completion.choices().get(0).message().content()).contains("plain hello");
        assertThat(completion.model()).isEqualTo("gpt-4o-mini");
        assertThat(completion.usage().orElseThrow().promptTokens()).isEqualTo(40);
        assertThat(completion.usage().orElseThrow().completionTokens()).isEqualTo(9);
        assertThat(raw.headers().values("x-caravan-provider")).containsExactly("oai");
        assertThat(raw.headers().values("x-caravan-fallback")).containsExactly("false");
    }

    @Test
    void aWrongKeyIsUnauthorized() {
        assertThatThrownBy(() -> client("not-the-key").chat().completions().create(
                ChatCompletionCreateParams.builder().model("gpt").addUserMessage("hi").build()))
                .isInstanceOf(UnauthorizedException.class);
    }

    @Test
    void aStreamedCallArrivesInSeveralChunksThatAddUpToTheUpstreamText() {
        List<String> pieces = new ArrayList<>();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("gpt")
                .addUserMessage("Stream please")
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build())
                .build();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
            stream.stream().forEach(chunk -> {
                chunks.add(chunk);
                chunk.choices().forEach(c -> c.delta().content().ifPresent(pieces::add));
            });
        }
        assertThat(pieces.stream().filter(p -> !p.isEmpty()).count()).isGreaterThanOrEqualTo(4);
        assertThat(String.join("", pieces)).isEqualTo("Hello, streaming world");
        ChatCompletionChunk last = chunks.get(chunks.size() - 1);
        assertThat(last.choices()).isEmpty();
        assertThat(last.usage().orElseThrow().promptTokens()).isEqualTo(11);
        assertThat(last.usage().orElseThrow().completionTokens()).isEqualTo(7);
        assertThat(chunks.stream().flatMap(c -> c.choices().stream())
                .anyMatch(c -> c.finishReason().map(f -> f.asString().equals("stop")).orElse(false))).isTrue();
        upstream.verify(postRequestedFor(urlEqualTo("/oai/v1/chat/completions"))
                .withRequestBody(matchingJsonPath("$.stream_options.include_usage", equalTo("true"))));
    }

    @Test
    void aStreamedAnthropicToolCallAccumulatesInTheSdk() {
        com.openai.helpers.ChatCompletionAccumulator accumulator = com.openai.helpers.ChatCompletionAccumulator.create();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(
                ChatCompletionCreateParams.builder().model("claude").addUserMessage("Weather in Paris?").build())) {
            stream.stream().forEach(accumulator::accumulate);
        }
        ChatCompletion completion = accumulator.chatCompletion();
        assertThat(completion.choices().get(0).message().content()).contains("Bonjour de Claude");
        assertThat(completion.choices().get(0).finishReason().asString()).isEqualTo("tool_calls");
        ChatCompletionMessageFunctionToolCall call =
                completion.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction();
        assertThat(call.id()).isEqualTo("toolu_9");
        assertThat(call.function().name()).isEqualTo("get_weather");
        assertThat(call.function().arguments()).isEqualTo("{\"city\": \"Paris\"}");
    }

    @Test
    void aRateLimitedGroupFallsBack() {
        HttpResponseFor<ChatCompletion> raw = client.chat().completions().withRawResponse().create(
                ChatCompletionCreateParams.builder().model("flaky").addUserMessage("hello?").build());
        ChatCompletion completion = raw.parse();
        assertThat(completion.choices().get(0).message().content()).contains("plain hello");
        assertThat(raw.headers().values("x-caravan-fallback")).containsExactly("true");
        assertThat(raw.headers().values("x-caravan-model")).containsExactly("gpt");
        upstream.verify(postRequestedFor(urlEqualTo("/limited/v1/chat/completions")));
    }

    @Test
    void aCallWithToolsGetsToolCallsBack() {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder()
                .model("claude")
                .addUserMessage("Weather in Paris?")
                .addTool(ChatCompletionFunctionTool.builder().function(FunctionDefinition.builder()
                        .name("get_weather").description("current weather")
                        .parameters(FunctionParameters.builder()
                                .putAdditionalProperty("type", JsonValue.from("object"))
                                .putAdditionalProperty("properties", JsonValue.from(
                                        Map.of("city", Map.of("type", "string"))))
                                .build())
                        .build()).build())
                .build();
        ChatCompletion completion = client.chat().completions().create(params);
        assertThat(completion.choices().get(0).finishReason().asString()).isEqualTo("tool_calls");
        ChatCompletionMessageFunctionToolCall call =
                completion.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction();
        assertThat(call.id()).isEqualTo("toolu_1");
        assertThat(call.function().name()).isEqualTo("get_weather");
        assertThat(Json.MAPPER.valueToTree(Map.of("city", "Paris")).toString())
                .isEqualTo(call.function().arguments().replace(" ", ""));
        upstream.verify(postRequestedFor(urlEqualTo("/anthropic/v1/messages"))
                .withRequestBody(matchingJsonPath("$.tools[0].name", equalTo("get_weather"))));
    }
}
