package io.caravan.provider.anthropic;

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
 * Anthropic's Messages stream to OpenAI deltas: {@code message_start} gives the role (and input usage),
 * {@code content_block_start} of a {@code tool_use} opens a tool call (id, name), {@code content_block_delta}
 * carries {@code text_delta} (content) or {@code input_json_delta} (the tool call's arguments, piece by piece),
 * {@code message_delta} the stop reason and output usage, {@code message_stop} ends it. Thinking blocks are left
 * out, as in whole answers; {@code ping} is ignored; an {@code error} event is classified like an error response.
 */
final class AnthropicStreamTranslator implements StreamTranslator {

    private final Map<String, Object> headers;
    private final ObjectNode usage = Json.object();
    private boolean done;
    /** The role goes out with the first content, so the attempt's first delta is real output, not message_start. */
    private boolean rolePending;
    private int toolIndex = -1;
    private int currentToolIndex = -1;

    AnthropicStreamTranslator(Map<String, Object> headers) {
        this.headers = headers;
    }

    @Override
    public void onEvent(SseEvent event, List<StreamDelta> out) {
        byte[] bytes = event.data().getBytes(StandardCharsets.UTF_8);
        JsonNode data = StreamTranslator.jsonObject(bytes, AnthropicAdapter.API);
        String type = Json.textOrNull(data, "type");
        if (type == null) {
            type = event.event();
        }
        switch (type == null ? "" : type) {
            case "message_start" -> {
                mergeUsage(data.path("message").get("usage"));
                rolePending = true;
            }
            case "content_block_start" -> {
                JsonNode block = data.path("content_block");
                if ("tool_use".equals(Json.textOrNull(block, "type"))) {
                    currentToolIndex = ++toolIndex;
                    emit(out, StreamDelta.toolCallStart(currentToolIndex, Json.textOrNull(block, "id"),
                            Json.textOrNull(block, "name")));
                } else {
                    currentToolIndex = -1;
                    String text = Json.textOrNull(block, "text");
                    if ("text".equals(Json.textOrNull(block, "type")) && text != null && !text.isEmpty()) {
                        emit(out, new StreamDelta(Json.object().put("content", text), null));
                    }
                }
            }
            case "content_block_delta" -> {
                JsonNode delta = data.path("delta");
                String kind = Json.textOrNull(delta, "type");
                if ("text_delta".equals(kind)) {
                    emit(out, new StreamDelta(Json.object().put("content", delta.path("text").asText("")), null));
                } else if ("input_json_delta".equals(kind) && currentToolIndex >= 0) {
                    emit(out, StreamDelta.toolCallArguments(currentToolIndex, delta.path("partial_json").asText("")));
                }
            }
            case "content_block_stop" -> currentToolIndex = -1;
            case "message_delta" -> {
                mergeUsage(data.get("usage"));
                String stop = Json.textOrNull(data.path("delta"), "stop_reason");
                if (stop != null) {
                    emit(out, new StreamDelta(Json.object(), AnthropicAdapter.finishReason(stop, toolIndex >= 0)));
                }
            }
            case "message_stop" -> done = true;
            case "error" -> throw AnthropicAdapter.error(200, headers, bytes);
            default -> {
                // ping and future event types
            }
        }
    }

    private void emit(List<StreamDelta> out, StreamDelta delta) {
        out.add(rolePending ? delta.withAssistantRole() : delta);
        rolePending = false;
    }

    /** Usage fields arrive in message_start (input) and message_delta (output, cumulative): the latest wins. */
    private void mergeUsage(JsonNode u) {
        if (u != null && u.isObject()) {
            u.properties().forEach(f -> {
                if (f.getValue().isNumber()) {
                    usage.set(f.getKey(), f.getValue());
                }
            });
        }
    }

    @Override
    public boolean finished() {
        return done;
    }

    @Override
    public TokenUsage usage() {
        return AnthropicAdapter.usage(usage);
    }
}
