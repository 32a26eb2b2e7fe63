package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.Settings;
import io.caravan.cli.ReportCommand;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One meaning of "fallback" in the result, {@code /status}, {@code caravan_fallbacks_total} and {@code caravan
 * report}: the answer came from a deployment other than the first of the task's plan. A failover inside the
 * group is one; a group whose provider has no keys (left out of the plan) is not; a task that moved on and still
 * failed is not either (it has no answer).
 */
class FallbackMeaningTest {

    static final String CATALOG = """
            providers:
              sick: {api: simulated, latency: 1ms, error_rate: 1, error_status: 503, retries: 0}
              well: {api: simulated, latency: 1ms, error_rate: 0}
              keyless:
                api: openai
                base_url: http://127.0.0.1:9/v1
                api_keys: ["${FALLBACK_MEANING_UNSET_KEY:-}"]
            models:
              - {name: pair, provider: sick, model: sick-small, price: {input: 0.10, output: 0.10}}
              - {name: pair, provider: well, model: well-large, price: {input: 1.00, output: 1.00}}
              - {name: premium, provider: keyless, model: premium-large, price: {input: 5.00, output: 5.00}}
              - {name: solo, provider: well, model: well-solo, price: {input: 1.00, output: 1.00}}
              - {name: lost, provider: sick, model: sick-one}
              - {name: lost2, provider: sick, model: sick-two}
            groups:
              pair: {strategy: cost}
            fallbacks:
              premium: [solo]
              lost: [lost2]
            tiers:
              fast: {model: solo}
            default_tier: fast
            """;

    static Caravan caravan;
    static final Map<String, JsonNode> results = new HashMap<>();

    @BeforeAll
    static void start() throws Exception {
        caravan = Caravan.start(CATALOG);
        task("f-pair", "pair", 200);       // pair#0 fails, pair#1 (same group) answers: a fallback
        task("f-keyless", "premium", 200); // premium has no keys: the plan starts at solo#0, no fallback
        task("f-lost", "lost", 503);       // lost#0 then lost2#0 fail: moved on, but no answer, no fallback
        task("f-plain", "solo", 200);
    }

    static void task(String id, String model, int status) throws Exception {
        var r = caravan.post("/v1/tasks", """
                {"id":"%s","model":"%s","prompt":"hello"}""".formatted(id, model));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        results.put(id, Json.MAPPER.readTree(r.body()));
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
    }

    @Test
    void theResultSaysFallbackOnlyWhenTheAnswerCameFromBeyondTheFirstOfThePlan() {
        JsonNode pair = results.get("f-pair");
        assertThat(pair.path("attempts")).extracting(a -> a.path("deployment").asText())
                .containsExactly("pair#0", "pair#1");
        assertThat(pair.path("fallback").asBoolean()).as(pair.toString()).isTrue();

        JsonNode keyless = results.get("f-keyless");
        assertThat(keyless.path("model").asText()).isEqualTo("solo");
        assertThat(keyless.path("attempts")).hasSize(1);
        assertThat(keyless.path("fallback").asBoolean()).as(keyless.toString()).isFalse();

        assertThat(results.get("f-lost").path("attempts")).hasSize(2);
        assertThat(results.get("f-lost").path("fallback").asBoolean()).isFalse();
        assertThat(results.get("f-plain").path("fallback").asBoolean()).isFalse();
    }

    @Test
    void theMetricCountsTasksThatFellBackFromTheFirstOfThePlanToTheAnswer() throws Exception {
        PrometheusText m = new PrometheusText(caravan.get("/metrics").body());
        assertThat(m.value("caravan_fallbacks_total", "from", "pair#0", "to", "pair#1")).isEqualTo(1.0);
        assertThat(m.sum("caravan_fallbacks_total")).isEqualTo(1.0);
    }

    @Test
    void statusCountsTheSameFallbacks() throws Exception {
        JsonNode status = Json.MAPPER.readTree(caravan.get("/status").body());
        Map<String, Long> served = new HashMap<>();
        status.path("deployments").forEach(d -> served.put(d.path("deployment").asText(),
                d.path("fallbacks_served").asLong()));
        assertThat(served).containsEntry("pair#1", 1L).containsEntry("pair#0", 0L)
                .containsEntry("solo#0", 0L).containsEntry("lost2#0", 0L);
        JsonNode totals = status.path("totals");
        assertThat(totals.path("requests").asLong()).isEqualTo(4);
        assertThat(totals.path("tasks_with_fallback").asLong()).isEqualTo(1);
        assertThat(totals.path("fallback_events").asLong()).isEqualTo(1);
        assertThat(totals.path("fallback_share").asDouble()).isEqualTo(0.25);
    }

    @Test
    void theReportCountsTheSameFallbacksFromTheUsageTopic() {
        Settings settings = Settings.load().with("kafka.bootstrap-servers", TestKafka.bootstrapServers())
                .with("caravan.topics.usage", caravan.usageTopic);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            JsonNode report = report(settings, "--by", "model", "--format", "json");
            JsonNode total = report.path("total");
            assertThat(total.path("attempts").asLong()).isEqualTo(6);
            assertThat(total.path("requests").asLong()).isEqualTo(4);
            assertThat(total.path("tasks_with_fallback").asLong()).isEqualTo(1);
            assertThat(total.path("fallback_share").asDouble()).isEqualTo(0.25);
        });
    }

    static JsonNode report(Settings settings, String... args) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = ReportCommand.run(new ArrayList<>(List.of(args)), settings,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(status).as(err.toString(StandardCharsets.UTF_8)).isEqualTo(0);
        return Json.MAPPER.readTree(out.toString(StandardCharsets.UTF_8));
    }
}
