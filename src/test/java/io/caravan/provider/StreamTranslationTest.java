package io.caravan.provider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** SSE parsing and each adapter's stream translation, without a server. */
class StreamTranslationTest {

    static final DeploymentSpec DEPLOYMENT = new DeploymentSpec("d#0", "d", "p", "m", null, null, null, 1);

    static ProviderStream open(String api, String body) {
        return ProviderAdapters.forApi(api).openStream(
                new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8)), Map.of(), DEPLOYMENT, () -> { });
    }

    static List<StreamDelta> drain(ProviderStream stream) throws IOException {
        List<StreamDelta> all = new ArrayList<>();
        StreamDelta d;
        while ((d = stream.next()) != null) {
            all.add(d);
        }
        return all;
    }

    @Test
    void sseReaderJoinsDataLinesSkipsCommentsAndKeepsALastEventWithoutBlankLine() throws IOException {
        SseReader reader = new SseReader(new ByteArrayInputStream(
                ": keep-alive\n\nevent: a\ndata: one\ndata: two\n\nid: 7\ndata:three".getBytes(StandardCharsets.UTF_8)));
        assertThat(reader.next()).isEqualTo(new SseEvent("a", "one\ntwo"));
        assertThat(reader.next()).isEqualTo(new SseEvent(null, "three"));
        assertThat(reader.next()).isNull();
    }

    @Test
    void openAiErrorInTheStreamIsClassified() {
        ProviderStream stream = open("openai",
                "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n");
        assertThatThrownBy(stream::peek).isInstanceOfSatisfying(ProviderError.class,
                e -> assertThat(e.errorClass()).isEqualTo(ErrorClass.RATE_LIMITED));
    }

    @Test
    void openAiStreamWithoutDoneEndsCleanlyAfterAFinishReason() throws IOException {
        ProviderStream stream = open("openai", """
                data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}

                data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}

                data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}

                """);
        List<StreamDelta> deltas = drain(stream);
        assertThat(deltas).hasSize(2);
        assertThat(deltas.get(0).delta().path("role").asText()).isEqualTo("assistant");
        assertThat(deltas.get(0).delta().path("content").asText()).isEqualTo("hi");
        assertThat(deltas.get(1).finishReason()).isEqualTo("length");
        assertThat(stream.usage()).isEqualTo(new TokenUsage(3, 0, 1));
    }

    @Test
    void anthropicUsageCountsCacheReadsAndTheLastOutputCount() throws IOException {
        ProviderStream stream = open("anthropic", """
                event: message_start
                data: {"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":90,"cache_creation_input_tokens":5,"output_tokens":1}}}

                event: content_block_delta
                data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}

                event: message_delta
                data: {"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":42}}

                event: message_stop
                data: {"type":"message_stop"}

                """);
        List<StreamDelta> deltas = drain(stream);
        assertThat(deltas.get(deltas.size() - 1).finishReason()).isEqualTo("length");
        assertThat(stream.usage().input()).isEqualTo(105);
        assertThat(stream.usage().cachedInput()).isEqualTo(90);
        assertThat(stream.usage().output()).isEqualTo(42);
    }

    @Test
    void anthropicStreamWithoutMessageStopIsBroken() {
        ProviderStream stream = open("anthropic", """
                event: content_block_delta
                data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"par"}}

                """);
        assertThatThrownBy(() -> drain(stream)).isInstanceOfSatisfying(ProviderError.class,
                e -> assertThat(e.errorClass()).isEqualTo(ErrorClass.SERVER_ERROR));
    }

    @Test
    void geminiFunctionCallsBecomeToolCallsAndABlockedAnswerIsABadRequest() throws IOException {
        List<StreamDelta> deltas = drain(open("gemini", """
                data: {"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}}]},"finishReason":"STOP"}]}

                """));
        assertThat(deltas).hasSize(1);
        var call = deltas.get(0).delta().path("tool_calls").get(0);
        assertThat(call.path("index").asInt()).isZero();
        assertThat(call.path("function").path("name").asText()).isEqualTo("get_weather");
        assertThat(call.path("function").path("arguments").asText()).isEqualTo("{\"city\":\"Oslo\"}");
        assertThat(deltas.get(0).finishReason()).isEqualTo("tool_calls");

        ProviderStream blocked = open("gemini", """
                data: {"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"SAFETY"}]}

                """);
        assertThatThrownBy(blocked::peek).isInstanceOfSatisfying(ProviderError.class,
                e -> assertThat(e.errorClass()).isEqualTo(ErrorClass.BAD_REQUEST));
    }
}
