package io.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of mapping OpenAI chat messages to a native API and its answer back that every non-OpenAI adapter
 * (Anthropic, Gemini, Bedrock Converse) does the same way: system prompts taken out, consecutive turns of one role
 * merged, image URLs, tool-call arguments, generation numbers and stop sequences copied, and the OpenAI assistant
 * message built from text and tool calls.
 */
public final class ChatMapping {

    private ChatMapping() {}

    /** Whether an OpenAI message is a system prompt ({@code system}, or {@code developer} for reasoning models). */
    public static boolean isSystem(JsonNode message) {
        String role = Json.textOrNull(message, "role");
        return "system".equals(role) || "developer".equals(role);
    }

    /** The non-blank texts of the system prompts among the messages, in order. */
    public static List<String> systemTexts(ArrayNode messages) {
        List<String> texts = new ArrayList<>();
        if (messages != null) {
            for (JsonNode m : messages) {
                String text = isSystem(m) ? AdapterSupport.text(m.get("content")) : "";
                if (!text.isBlank()) {
                    texts.add(text);
                }
            }
        }
        return texts;
    }

    /** The messages that are not system prompts, in order (none for null). */
    public static List<JsonNode> conversation(ArrayNode messages) {
        List<JsonNode> turns = new ArrayList<>();
        if (messages != null) {
            messages.forEach(m -> {
                if (!isSystem(m)) {
                    turns.add(m);
                }
            });
        }
        return turns;
    }

    /** A {@code max_tokens} (or {@code max_completion_tokens}) param under the native name, when given. */
    public static void copyMaxTokens(ObjectNode params, ObjectNode to, String as) {
        Integer max = AdapterSupport.maxTokens(params);
        if (max != null) {
            to.put(as, max);
        }
    }

    /**
     * Adds a turn of content blocks, merged into the last turn when that has the same role (the native APIs want
     * roles to alternate); an empty turn is left out.
     *
     * @param blocksField the field holding a turn's blocks ({@code content}, Gemini's {@code parts})
     */
    public static void appendTurn(ArrayNode turns, String role, String blocksField, ArrayNode blocks) {
        if (blocks.isEmpty()) {
            return;
        }
        ObjectNode last = turns.isEmpty() ? null : (ObjectNode) turns.get(turns.size() - 1);
        if (last != null && role.equals(last.path("role").asText())) {
            ((ArrayNode) last.get(blocksField)).addAll(blocks);
        } else {
            ObjectNode turn = turns.addObject();
            turn.put("role", role);
            turn.set(blocksField, blocks);
        }
    }

    /** The URL of an {@code image_url} content part (a string or {@code {"url": ...}}), or null. */
    public static String imageUrl(JsonNode part) {
        JsonNode url = part.get("image_url");
        return url == null ? null : url.isTextual() ? url.asText() : Json.textOrNull(url, "url");
    }

    /**
     * OpenAI tool-call arguments (a JSON string) as an object: the parsed object, or the raw text wrapped as
     * {@code {"arguments": raw}} when it is not one; nothing gives an empty object.
     */
    public static ObjectNode argumentsObject(JsonNode arguments) {
        if (arguments == null || arguments.isNull()) {
            return Json.object();
        }
        if (arguments.isObject()) {
            return (ObjectNode) arguments.deepCopy();
        }
        String raw = arguments.asText();
        if (raw.isBlank()) {
            return Json.object();
        }
        JsonNode parsed = AdapterSupport.parseOrNull(raw.getBytes(StandardCharsets.UTF_8));
        if (parsed != null && parsed.isObject()) {
            return (ObjectNode) parsed;
        }
        ObjectNode wrapped = Json.object();
        wrapped.put("arguments", raw);
        return wrapped;
    }

    /** Copies a numeric param under the native name; anything else is left out. */
    public static void copyNumber(ObjectNode from, String name, ObjectNode to, String as) {
        JsonNode v = from.get(name);
        if (v != null && v.isNumber()) {
            to.set(as, v.deepCopy());
        }
    }

    /** {@code stop} (a string or an array) as the native {@code stopSequences} array of {@code config}. */
    public static void copyStopSequences(ObjectNode params, ObjectNode config) {
        JsonNode stop = params.get("stop");
        if (stop != null && (stop.isTextual() || stop.isArray())) {
            ArrayNode stops = config.putArray("stopSequences");
            if (stop.isTextual()) {
                stops.add(stop.asText());
            } else {
                stop.forEach(s -> stops.add(s.asText()));
            }
        }
    }

    /** Adds an OpenAI tool call; its {@code input} object becomes the {@code arguments} JSON string. */
    public static ObjectNode addToolCall(ArrayNode calls, String id, String name, JsonNode input) {
        ObjectNode call = calls.addObject();
        call.put("id", id);
        call.put("type", "function");
        call.putObject("function").put("name", name)
                .put("arguments", input == null || input.isNull() ? "{}" : Json.text(input));
        return call;
    }

    /** The OpenAI assistant message of an answer: its text ({@code null} when it only calls tools) and calls. */
    public static ObjectNode assistantMessage(CharSequence text, ArrayNode calls) {
        ObjectNode message = Json.object();
        message.put("role", "assistant");
        if (text.length() == 0 && !calls.isEmpty()) {
            message.putNull("content");
        } else {
            message.put("content", text.toString());
        }
        if (!calls.isEmpty()) {
            message.set("tool_calls", calls);
        }
        return message;
    }
}
