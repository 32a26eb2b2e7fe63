package io.caravan.provider.simulated;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.util.Json;
import io.caravan.util.Durations;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

/**
 * The in-process "server" behind {@code api: simulated}: deterministic text and token counts derived from the
 * prompt, an optional latency, and failures at exactly {@code error_rate} of the calls (evenly spread, per provider).
 */
public final class SimulatedUpstream {

    public static final String BEAN = "simulatedUpstream";

    private final Map<String, AtomicLong> calls = new ConcurrentHashMap<>();

    public void answer(Exchange exchange) throws IOException, InterruptedException {
        Message message = exchange.getMessage();
        JsonNode request = Json.MAPPER.readTree(message.getBody(byte[].class));
        long latencyMs = Durations.parse(request.path("latency").asText("0ms")).toMillis();
        if (latencyMs > 0) {
            Thread.sleep(latencyMs);
        }
        double errorRate = request.path("error_rate").asDouble(0);
        long n = calls.computeIfAbsent(request.path("provider").asText(), p -> new AtomicLong()).incrementAndGet();
        message.getHeaders().clear();
        ObjectNode body = Json.object();
        if (errorRate > 0 && Math.floor(n * errorRate) != Math.floor((n - 1) * errorRate)) {
            int status = request.path("error_status").asInt(503);
            body.put("error", "simulated failure");
            message.setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        } else {
            String prompt = promptText(request.path("messages"));
            String text = "[simulated " + request.path("model").asText() + "] " + summary(prompt);
            body.put("text", text);
            body.put("input_tokens", Math.max(1, prompt.length() / 4));
            body.put("output_tokens", Math.max(1, text.length() / 4));
            message.setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        }
        message.setBody(Json.bytes(body));
    }

    private static String promptText(JsonNode messages) {
        StringBuilder text = new StringBuilder();
        for (JsonNode m : messages) {
            JsonNode content = m.path("content");
            text.append(content.isTextual() ? content.asText() : content.toString()).append('\n');
        }
        return text.toString();
    }

    private static String summary(String prompt) {
        String oneLine = prompt.strip().replaceAll("\\s+", " ");
        int words = oneLine.isEmpty() ? 0 : oneLine.split(" ").length;
        String head = oneLine.length() > 80 ? oneLine.substring(0, 80) + "..." : oneLine;
        return "You asked (" + words + " words): " + head;
    }
}
