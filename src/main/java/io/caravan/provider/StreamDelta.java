package io.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.util.Json;

/**
 * One piece of a streamed answer in OpenAI's chunk shape: {@code delta} is a {@code choices[0].delta}
 * ({@code role}, {@code content}, {@code tool_calls} with {@code index}), {@code finishReason} is set on the
 * piece that ends the choice. Either may be null.
 */
public record StreamDelta(ObjectNode delta, String finishReason) {

    /** The first piece of a streamed tool call: its index, id and name, with the arguments still to come. */
    public static StreamDelta toolCallStart(int index, String id, String name) {
        ObjectNode call = Json.object();
        call.put("index", index);
        call.put("id", id);
        call.put("type", "function");
        call.putObject("function").put("name", name).put("arguments", "");
        return toolCall(call);
    }

    /** A further piece of the arguments (a JSON text in pieces) of the tool call at {@code index}. */
    public static StreamDelta toolCallArguments(int index, String arguments) {
        ObjectNode call = Json.object();
        call.put("index", index);
        call.putObject("function").put("arguments", arguments);
        return toolCall(call);
    }

    private static StreamDelta toolCall(ObjectNode call) {
        ObjectNode delta = Json.object();
        delta.putArray("tool_calls").add(call);
        return new StreamDelta(delta, null);
    }

    /** This piece with {@code role: assistant} first: the first piece of an answer carries the role. */
    public StreamDelta withAssistantRole() {
        ObjectNode withRole = Json.object().put("role", "assistant");
        withRole.setAll(delta);
        return new StreamDelta(withRole, finishReason);
    }
}
