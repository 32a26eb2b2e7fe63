package io.caravan.support;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.util.Json;
import java.util.ArrayList;
import java.util.List;

/** Reading an OpenAI-style chat stream (SSE) as a client sees it. */
public final class ChatStream {

    private ChatStream() {
    }

    /** The data of each SSE event, in order. */
    public static List<String> events(String body) {
        List<String> data = new ArrayList<>();
        for (String block : body.split("\n\n")) {
            if (block.startsWith("data: ")) {
                data.add(block.substring(6));
            }
        }
        return data;
    }

    /** The answer's text: every chunk's delta content, in order ({@code [DONE]} skipped). */
    public static String text(List<String> events) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (String e : events) {
            if (!e.equals("[DONE]")) {
                JsonNode chunk = Json.MAPPER.readTree(e);
                chunk.path("choices").forEach(c -> sb.append(c.path("delta").path("content").asText("")));
            }
        }
        return sb.toString();
    }

    public static String text(String body) throws Exception {
        return text(events(body));
    }
}
