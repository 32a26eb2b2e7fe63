package io.caravan.intake;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Tasks in on a real Kafka topic, results, usage events and dead letters out on real topics. */
class KafkaRoundTripTest {

    static WireMockServer upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("hello from kimi", 1000, 200, 500))));
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("REJECT-ME"))
                .willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("Invalid request: bad tool schema", "invalid_request_error", null))));
        String catalog = """
                providers:
                  kimi:
                    api: openai
                    base_url: http://127.0.0.1:%d/v1
                    api_keys: ["sk-kafka-test-key"]
                    retries: 0
                models:
                  - name: kimi-k2
                    provider: kimi
                    model: kimi-k2-0905-preview
                    price: {input: 0.60, cached_input: 0.15, output: 2.50}
                tiers:
                  balanced: {model: kimi-k2}
                default_tier: balanced
                """.formatted(upstream.port());
        caravan = Caravan.start(catalog, Map.of(), Map.of("caravan.max-task-bytes", "2048"));
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
    }

    @Test
    void everyTaskGetsOneResultAndOneUsageEventPerAttemptWithExactCost() {
        for (int i = 0; i < 5; i++) {
            TestKafka.send(caravan.tasksTopic, null,
                    ("{\"id\":\"rt-" + i + "\",\"prompt\":\"Summarise item " + i + "\",\"metadata\":{\"tenant\":\"acme\"}}")
                            .getBytes(StandardCharsets.UTF_8),
                    Map.of("trace-id", "trace-" + i));
        }
        // the topic also holds the results of the other tests: read until all five of these are there
        List<ConsumerRecord<String, byte[]>> results = org.awaitility.Awaitility.await()
                .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .until(() -> TestKafka.read(caravan.resultsTopic, 1_000, Duration.ofSeconds(1)),
                        all -> all.stream().filter(r -> r.key().startsWith("rt-")).count() >= 5);
        Map<String, ConsumerRecord<String, byte[]>> byKey = results.stream()
                .filter(r -> r.key().startsWith("rt-"))
                .collect(Collectors.toMap(ConsumerRecord::key, r -> r));
        assertThat(byKey.keySet()).containsExactlyInAnyOrder("rt-0", "rt-1", "rt-2", "rt-3", "rt-4");
        double expectedCost = (800 * 0.60 + 200 * 0.15 + 500 * 2.50) / 1_000_000.0;
        for (int i = 0; i < 5; i++) {
            ConsumerRecord<String, byte[]> record = byKey.get("rt-" + i);
            JsonNode result = json(record.value());
            assertThat(result.path("id").asText()).isEqualTo("rt-" + i);
            assertThat(result.path("status").asText()).isEqualTo("ok");
            assertThat(result.path("output").path("content").asText()).isEqualTo("hello from kimi");
            assertThat(result.path("tier").asText()).isEqualTo("balanced");
            assertThat(result.path("provider").asText()).isEqualTo("kimi");
            assertThat(result.path("usage").path("input_tokens").asLong()).isEqualTo(1000);
            assertThat(result.path("usage").path("cached_input_tokens").asLong()).isEqualTo(200);
            assertThat(result.path("usage").path("output_tokens").asLong()).isEqualTo(500);
            assertThat(result.path("usage").path("cost_usd").asDouble()).isCloseTo(expectedCost, within(1e-9));
            assertThat(new String(record.headers().lastHeader("trace-id").value(), StandardCharsets.UTF_8))
                    .isEqualTo("trace-" + i);
        }
        List<ConsumerRecord<String, byte[]>> usage = TestKafka.read(caravan.usageTopic, 5, Duration.ofSeconds(30));
        Map<String, JsonNode> events = new HashMap<>();
        usage.forEach(r -> events.put(r.key(), json(r.value())));
        assertThat(events.keySet()).contains("rt-0", "rt-1", "rt-2", "rt-3", "rt-4");
        JsonNode event = events.get("rt-3");
        assertThat(event.path("task_id").asText()).isEqualTo("rt-3");
        assertThat(event.path("attempt").asInt()).isEqualTo(1);
        assertThat(event.path("outcome").asText()).isEqualTo("ok");
        assertThat(event.path("deployment").asText()).isEqualTo("kimi-k2#0");
        assertThat(event.path("cost_usd").asDouble()).isCloseTo(expectedCost, within(1e-9));
        assertThat(event.path("metadata").path("tenant").asText()).isEqualTo("acme");
    }

    @Test
    void badRecordsGoToTheDeadLetterTopicUnchangedAndDoNotBlockTheNextTask() {
        byte[] notJson = "{this is not json".getBytes(StandardCharsets.UTF_8);
        byte[] oversize = ("{\"id\":\"big-1\",\"prompt\":\"" + "x".repeat(4000) + "\"}").getBytes(StandardCharsets.UTF_8);
        byte[] incomplete = "{\"id\":\"nothing-to-do\"}".getBytes(StandardCharsets.UTF_8);
        TestKafka.send(caravan.tasksTopic, "bad-1", notJson, Map.of("origin", "test"));
        TestKafka.send(caravan.tasksTopic, null, oversize, Map.of());
        TestKafka.send(caravan.tasksTopic, null, incomplete, Map.of());
        TestKafka.send(caravan.tasksTopic, null, "{\"id\":\"after-bad\",\"prompt\":\"still here?\"}"
                .getBytes(StandardCharsets.UTF_8), Map.of());

        List<ConsumerRecord<String, byte[]>> dlq = TestKafka.read(caravan.dlqTopic, 3, Duration.ofSeconds(60));
        Map<String, ConsumerRecord<String, byte[]>> dead = dlq.stream()
                .collect(Collectors.toMap(ConsumerRecord::key, r -> r, (a, b) -> a));
        assertThat(dead.get("bad-1").value()).isEqualTo(notJson);
        assertThat(header(dead.get("bad-1"), "caravan-error-type")).isEqualTo("invalid_task");
        assertThat(header(dead.get("bad-1"), "caravan-error-message")).startsWith("not JSON");
        assertThat(header(dead.get("bad-1"), "origin")).isEqualTo("test");
        assertThat(dlq.stream().anyMatch(r -> java.util.Arrays.equals(r.value(), oversize))).isTrue();
        assertThat(dead.get("nothing-to-do").value()).isEqualTo(incomplete);
        assertThat(header(dead.get("nothing-to-do"), "caravan-error-message")).contains("messages or prompt");

        List<ConsumerRecord<String, byte[]>> results = TestKafka.read(caravan.resultsTopic, 100, Duration.ofSeconds(10));
        Set<String> keys = results.stream().map(ConsumerRecord::key).collect(Collectors.toSet());
        assertThat(keys).contains("after-bad", "bad-1", "nothing-to-do");
        JsonNode invalidResult = results.stream().filter(r -> "bad-1".equals(r.key())).map(r -> json(r.value()))
                .findFirst().orElseThrow();
        assertThat(invalidResult.path("status").asText()).isEqualTo("error");
        assertThat(invalidResult.path("error").path("type").asText()).isEqualTo("invalid_task");
    }

    @Test
    void aTaskTheProviderRejectsEndsWithAnErrorResultAndADeadLetter() {
        byte[] task = "{\"id\":\"rejected-1\",\"prompt\":\"REJECT-ME please\"}".getBytes(StandardCharsets.UTF_8);
        TestKafka.send(caravan.tasksTopic, null, task, Map.of());
        JsonNode result = TestKafka.read(caravan.resultsTopic, 100, Duration.ofSeconds(10)).stream()
                .filter(r -> "rejected-1".equals(r.key())).map(r -> json(r.value())).findFirst().orElseThrow();
        assertThat(result.path("status").asText()).isEqualTo("error");
        assertThat(result.path("error").path("type").asText()).isEqualTo("bad_request");
        ConsumerRecord<String, byte[]> dead = TestKafka.read(caravan.dlqTopic, 100, Duration.ofSeconds(10)).stream()
                .filter(r -> "rejected-1".equals(r.key())).findFirst().orElseThrow();
        assertThat(dead.value()).isEqualTo(task);
        assertThat(header(dead, "caravan-error-type")).isEqualTo("bad_request");
    }

    static JsonNode json(byte[] bytes) {
        try {
            return Json.MAPPER.readTree(bytes);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static String header(ConsumerRecord<String, byte[]> record, String name) {
        var header = record.headers().lastHeader(name);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }
}
