package io.caravan.provider.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.provider.SseEvent;
import io.caravan.provider.StreamDelta;
import io.caravan.provider.StreamTranslator;
import io.caravan.provider.TokenUsage;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * OpenAI's {@code chat.completion.chunk} stream: deltas pass through (role, content, tool_calls, refusal,
 * reasoning_content), the usage chunk ({@code stream_options.include_usage}) is kept, {@code [DONE]} ends it.
 * Services that omit {@code [DONE]} end cleanly once a finish reason came; an {@code error} object in the stream is
 * classified like an error response.
 */
final class OpenAiStreamTranslator implements StreamTranslator {

    private static final String[] DELTA_FIELDS = {"role", "content", "tool_calls", "refusal", "reasoning_content"};

    private final OpenAiAdapter dialect;
    private final Map<String, Object> headers;
    private boolean done;
    /** The role chunk waits for the first content, so that the attempt's first delta is real output. */
    private String pendingRole;
    private boolean finishSeen;
    private TokenUsage usage = TokenUsage.NONE;

    OpenAiStreamTranslator(OpenAiAdapter dialect, Map<String, Object> headers) {
        this.dialect = dialect;
        this.headers = headers;
    }

    @Override
    public void onEvent(SseEvent event, List<StreamDelta> out) {
        String data = event.data().trim();
        if (data.equals("[DONE]")) {
            done = true;
            return;
        }
        byte[] bytes = data.getBytes(StandardCharsets.UTF_8);
        JsonNode chunk = StreamTranslator.jsonObject(bytes, dialect.api());
        if (chunk.has("error")) {
            throw dialect.error(impliedStatus(chunk.get("error")), headers, bytes);
        }
        JsonNode u = chunk.get("usage");
        if (u != null && u.isObject()) {
            usage = dialect.usage(u);
        }
        JsonNode choices = chunk.get("choices");
        if (choices == null || !choices.isArray() || choices.isEmpty()) {
            return;
        }
        JsonNode choice = choices.get(0);
        ObjectNode delta = Json.object();
        JsonNode in = choice.path("delta");
        for (String field : DELTA_FIELDS) {
            JsonNode v = in.get(field);
            if (v != null && !v.isNull()) {
                delta.set(field, v);
            }
        }
        String finish = Json.textOrNull(choice, "finish_reason");
        if (finish != null) {
            finishSeen = true;
        }
        if (delta.has("role") && delta.size() <= 2 && delta.path("content").asText("").isEmpty()
                && finish == null) {
            pendingRole = delta.get("role").asText(); // {"role":"assistant","content":""}: nothing said yet
            return;
        }
        if (!delta.isEmpty() || finish != null) {
            if (pendingRole != null && !delta.has("role")) {
                ObjectNode withRole = Json.object().put("role", pendingRole);
                withRole.setAll(delta);
                delta = withRole;
            }
            pendingRole = null;
            out.add(new StreamDelta(delta, finish));
        }
    }

    /**
     * An error inside a 200 stream has no status of its own: the one its code or type implies, so the adapter's
     * error table classifies it as it would the same error answered with a status.
     */
    static int impliedStatus(JsonNode error) {
        String kind = (Json.textOrNull(error, "code") + " " + Json.textOrNull(error, "type")).toLowerCase(java.util.Locale.ROOT);
        if (kind.contains("rate_limit") || kind.contains("quota") || kind.contains("throttl")) {
            return 429;
        }
        if (kind.contains("context_length") || kind.contains("invalid_request")) {
            return 400;
        }
        return 500;
    }

    @Override
    public boolean finished() {
        return done;
    }

    @Override
    public boolean completeAtEnd() {
        return done || finishSeen;
    }

    @Override
    public TokenUsage usage() {
        return usage;
    }
}
