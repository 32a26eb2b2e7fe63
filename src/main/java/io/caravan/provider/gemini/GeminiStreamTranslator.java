package io.caravan.provider.gemini;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.provider.SseEvent;
import io.caravan.provider.StreamDelta;
import io.caravan.provider.StreamTranslator;
import io.caravan.provider.TokenUsage;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Gemini's {@code :streamGenerateContent?alt=sse}: every event is a whole {@code GenerateContentResponse} holding
 * the next parts. Text parts become content deltas, each {@code functionCall} part one complete tool call,
 * {@code usageMetadata} (cumulative) the usage. Gemini sends no terminal event: the stream is complete when a
 * candidate carried a {@code finishReason}; a blocked or failed finish is thrown as it is for whole answers.
 */
final class GeminiStreamTranslator implements StreamTranslator {

    private final Map<String, Object> headers;
    private boolean started;
    private boolean finishSeen;
    private int tools;
    private TokenUsage usage = TokenUsage.NONE;

    GeminiStreamTranslator(Map<String, Object> headers) {
        this.headers = headers;
    }

    @Override
    public void onEvent(SseEvent event, List<StreamDelta> out) {
        byte[] bytes = event.data().getBytes(StandardCharsets.UTF_8);
        JsonNode root = StreamTranslator.jsonObject(bytes, GeminiAdapter.API);
        if (root.has("error")) {
            // the error object carries its HTTP status as "code" (429, 500, ...)
            int status = root.path("error").path("code").canConvertToInt() ? root.path("error").path("code").asInt() : 500;
            throw GeminiAdapter.error(status, headers, bytes);
        }
        JsonNode meta = root.get("usageMetadata");
        if (meta != null && meta.isObject()) {
            usage = GeminiAdapter.usage(meta);
        }
        JsonNode candidate = root.path("candidates").path(0);
        if (candidate.isMissingNode()) {
            String block = Json.textOrNull(root.path("promptFeedback"), "blockReason");
            if (block != null) {
                throw new ProviderError(ErrorClass.BAD_REQUEST, 200, "gemini blocked the prompt: " + block);
            }
            return;
        }
        String finish = Json.textOrNull(candidate, "finishReason");
        if (finish != null && GeminiAdapter.BLOCKED.contains(finish)) {
            throw new ProviderError(ErrorClass.BAD_REQUEST, 200, "gemini blocked the answer: " + finish);
        }
        if (finish != null && GeminiAdapter.SLIPS.contains(finish)) {
            throw new ProviderError(ErrorClass.SERVER_ERROR, 200, "gemini answer failed: " + finish);
        }
        ObjectNode delta = Json.object();
        if (!started) {
            delta.put("role", "assistant");
            started = true;
        }
        StringBuilder text = new StringBuilder();
        for (JsonNode part : candidate.path("content").path("parts")) {
            if (part.path("thought").asBoolean(false)) {
                continue;
            }
            if (part.has("functionCall")) {
                JsonNode fc = part.get("functionCall");
                ObjectNode call = delta.withArray("tool_calls").addObject();
                call.put("index", tools);
                String id = Json.textOrNull(fc, "id");
                call.put("id", id != null ? id : "call_" + tools);
                call.put("type", "function");
                JsonNode args = fc.get("args");
                call.putObject("function").put("name", Json.textOrNull(fc, "name"))
                        .put("arguments", args == null || args.isNull() ? "{}" : Json.text(args));
                tools++;
            } else if (part.has("text")) {
                text.append(part.get("text").asText());
            }
        }
        if (text.length() > 0) {
            delta.put("content", text.toString());
        }
        String finishReason = null;
        if (finish != null) {
            finishSeen = true;
            finishReason = tools > 0 ? "tool_calls" : "MAX_TOKENS".equals(finish) ? "length" : "stop";
        }
        if (!delta.isEmpty() || finishReason != null) {
            out.add(new StreamDelta(delta, finishReason));
        }
    }

    @Override
    public boolean finished() {
        return false; // no terminal event: read to the end
    }

    @Override
    public boolean completeAtEnd() {
        return finishSeen;
    }

    @Override
    public TokenUsage usage() {
        return usage;
    }
}
