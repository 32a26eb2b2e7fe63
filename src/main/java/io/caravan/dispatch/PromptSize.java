package io.caravan.dispatch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A cheap, provider-neutral estimate of a request's size in tokens (about four characters a token, plus a few
 * tokens of framing per message), used to skip deployments whose context window cannot take the prompt.
 */
public final class PromptSize {

    private PromptSize() {}

    public static long estimateTokens(ArrayNode messages, ObjectNode params) {
        long chars = 0;
        for (JsonNode m : messages) {
            JsonNode content = m.get("content");
            if (content != null) {
                chars += content.isTextual() ? content.asText().length() : content.toString().length();
            }
            JsonNode calls = m.get("tool_calls");
            if (calls != null) {
                chars += calls.toString().length();
            }
        }
        JsonNode tools = params.get("tools");
        if (tools != null) {
            chars += tools.toString().length();
        }
        return chars / 4 + 4L * messages.size();
    }
}
