package io.caravan.accounting;

import io.caravan.support.TestKafka;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;

/** Writes usage events (contract section 5) onto a topic, as earlier Caravan instances would have. */
final class UsageSeed {

    private UsageSeed() {}

    static String event(String taskId, int attempt, Instant ts, String tier, String model, String deployment,
            String provider, String outcome, long input, long cached, long output, double cost, boolean fallback,
            String tenant) {
        return String.format(Locale.ROOT, """
                {"task_id":"%s","attempt":%d,"ts":"%s","tier":%s,"model":"%s","deployment":"%s","provider":"%s",\
                "provider_model":"%s-model","outcome":"%s","status":%s,"latency_ms":100,"input_tokens":%d,\
                "cached_input_tokens":%d,"output_tokens":%d,"cost_usd":%s,"fallback":%s,"metadata":%s}""",
                taskId, attempt, ts, tier == null ? "null" : "\"" + tier + "\"", model, deployment, provider, model,
                outcome, "ok".equals(outcome) ? "200" : "503", input, cached, output, Double.toString(cost), fallback,
                tenant == null ? "{}" : "{\"tenant\":\"" + tenant + "\"}");
    }

    static void send(String topic, String taskId, String json) {
        TestKafka.send(topic, taskId, json.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    /** An ok attempt of {@code cost} USD now. */
    static void spend(String topic, String taskId, String tier, String tenant, double cost) {
        send(topic, taskId, event(taskId, 1, Instant.now(), tier, "g", "g#0", "sim", "ok", 10, 0, 10, cost, false,
                tenant));
    }
}
