package io.caravan.provider.bedrock;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.provider.SseEvent;
import io.caravan.provider.StreamDelta;
import io.caravan.provider.StreamTranslator;
import io.caravan.provider.TokenUsage;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * ConverseStream's events to OpenAI deltas: {@code messageStart} (the role), {@code contentBlockStart} of a
 * {@code toolUse} (a tool call's id and name), {@code contentBlockDelta} ({@code text}, or a tool call's
 * {@code input} piece by piece), {@code messageStop} (the stop reason), {@code metadata} (usage; the last event).
 * Reasoning deltas are left out, as in whole answers.
 */
final class ConverseStreamTranslator implements StreamTranslator {

    private boolean rolePending;
    private boolean stopped;
    private boolean done;
    private int toolIndex = -1;
    private int currentToolIndex = -1;
    private TokenUsage usage = TokenUsage.NONE;

    @Override
    public void onEvent(SseEvent event, List<StreamDelta> out) {
        JsonNode data = StreamTranslator.jsonObject(event.data().getBytes(StandardCharsets.UTF_8), BedrockAdapter.API);
        switch (event.event() == null ? "" : event.event()) {
            case "messageStart" -> rolePending = true;
            case "contentBlockStart" -> {
                JsonNode use = data.path("start").path("toolUse");
                if (use.isObject()) {
                    currentToolIndex = ++toolIndex;
                    emit(out, StreamDelta.toolCallStart(currentToolIndex, Json.textOrNull(use, "toolUseId"),
                            Json.textOrNull(use, "name")));
                }
            }
            case "contentBlockDelta" -> {
                JsonNode delta = data.path("delta");
                if (delta.has("text")) {
                    emit(out, Json.object().put("content", delta.get("text").asText("")), null);
                } else if (delta.has("toolUse") && currentToolIndex >= 0) {
                    emit(out, StreamDelta.toolCallArguments(currentToolIndex,
                            delta.path("toolUse").path("input").asText("")));
                }
            }
            case "contentBlockStop" -> currentToolIndex = -1;
            case "messageStop" -> {
                stopped = true;
                emit(out, Json.object(), BedrockAdapter.finishReason(Json.textOrNull(data, "stopReason"),
                        toolIndex >= 0));
            }
            case "metadata" -> {
                usage = BedrockAdapter.usage(data.get("usage"));
                done = true;
            }
            default -> {
                // future event types
            }
        }
    }

    private void emit(List<StreamDelta> out, ObjectNode delta, String finish) {
        emit(out, new StreamDelta(delta, finish));
    }

    private void emit(List<StreamDelta> out, StreamDelta delta) {
        out.add(rolePending ? delta.withAssistantRole() : delta);
        rolePending = false;
    }

    @Override
    public boolean finished() {
        return done;
    }

    /** A stream that stopped its message but lost the metadata event is a whole answer without usage. */
    @Override
    public boolean completeAtEnd() {
        return stopped;
    }

    @Override
    public TokenUsage usage() {
        return usage;
    }
}
