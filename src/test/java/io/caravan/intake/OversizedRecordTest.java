package io.caravan.intake;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A result or dead letter the broker will not take (larger than the topic's {@code max.message.bytes} even
 * compressed) never holds its partition: the result is replaced by a small {@code result_too_large} one, the dead
 * letter by one that says where the record is, and the offset is committed. The topics are created by the test
 * with a small limit (20 kB), so modest records stand for 1 MiB ones on a default broker.
 */
class OversizedRecordTest {

    private static final int TOPIC_LIMIT = 20_000;
    private static final String LONG_ANSWER = "the quick brown fox jumps over the lazy dog. ".repeat(25_000);
    static WireMockServer upstream;

    @BeforeAll
    static void startUpstream() {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("short answer", 100, 0, 10))));
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("BIG-ANSWER"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion(randomText(120_000, 1), 100, 0, 30_000))));
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("LONG-TEXT-ANSWER"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion(LONG_ANSWER, 100, 0, 250_000))));
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("BIG-TASK"))
                .willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("Invalid request: too long", "invalid_request_error", null))));
    }

    @AfterAll
    static void stopUpstream() {
        upstream.stop();
    }

    /** Letters and digits at random: compression gains little on them. */
    static String randomText(int length, long seed) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        Random random = new Random(seed);
        StringBuilder text = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            text.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return text.toString();
    }

    static String catalog() {
        return """
                providers:
                  kimi:
                    api: openai
                    base_url: http://127.0.0.1:%d/v1
                    api_keys: ["sk-oversize-test"]
                    retries: 0
                    timeout: 30s
                models:
                  - name: kimi-k2
                    provider: kimi
                    model: kimi-k2-0905-preview
                    price: {input: 0.60, output: 2.50}
                tiers:
                  balanced: {model: kimi-k2}
                default_tier: balanced
                """.formatted(upstream.port());
    }

    static byte[] task(String id, String prompt) {
        return ("{\"id\":\"" + id + "\",\"prompt\":\"" + prompt + "\",\"metadata\":{\"tenant\":\"acme\"}}")
                .getBytes(StandardCharsets.UTF_8);
    }

    static String header(ConsumerRecord<String, byte[]> record, String name) {
        Header header = record.headers().lastHeader(name);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    static JsonNode json(byte[] bytes) throws Exception {
        return Json.MAPPER.readTree(bytes);
    }

    @Test
    void recordsTooLargeForTheirTopicAreReplacedByOnesThatFitAndTheOffsetMovesOn() throws Exception {
        String prefix = Caravan.newPrefix();
        try (Admin admin = TestKafka.admin()) {
            Map<String, String> small = Map.of("max.message.bytes", String.valueOf(TOPIC_LIMIT));
            admin.createTopics(List.of(new NewTopic(prefix + ".tasks", 1, (short) 1),
                    new NewTopic(prefix + ".results", 1, (short) 1).configs(small),
                    new NewTopic(prefix + ".dlq", 1, (short) 1).configs(small))).all().get(20, TimeUnit.SECONDS);
        }
        try (Caravan caravan = Caravan.start(catalog(), Map.of(), Map.of(), prefix)) {
            // a task of almost 1 MiB (the default caravan.max-task-bytes) the provider refuses: its dead letter
            // cannot carry its bytes
            byte[] bigTask = task("big-task", "BIG-TASK " + randomText(1_000_000, 2));
            assertThat(bigTask.length).isLessThan(1_048_576);
            TestKafka.sendToPartition(caravan.tasksTopic, 0, List.of(
                    task("big-answer", "BIG-ANSWER please"), bigTask, task("fine", "hello")));

            List<String> ids = List.of("big-answer", "big-task", "fine");
            List<ConsumerRecord<String, byte[]>> results = TestKafka.readKeys(caravan.resultsTopic, ids,
                    Duration.ofSeconds(60));
            assertThat(TestKafka.keys(results)).containsAll(ids);
            Map<String, ConsumerRecord<String, byte[]>> byId = new java.util.HashMap<>();
            results.forEach(r -> byId.put(r.key(), r));

            JsonNode tooLarge = json(byId.get("big-answer").value());
            assertThat(tooLarge.path("status").asText()).isEqualTo("error");
            assertThat(tooLarge.path("error").path("type").asText()).isEqualTo("result_too_large");
            assertThat(tooLarge.path("output").isNull()).isTrue();
            // what was spent is still told: the provider answered and was paid
            assertThat(tooLarge.path("usage").path("output_tokens").asLong()).isEqualTo(30_000);
            assertThat(tooLarge.path("metadata").path("tenant").asText()).isEqualTo("acme");
            assertThat(byId.get("big-answer").value().length).isLessThan(TOPIC_LIMIT);

            assertThat(json(byId.get("big-task").value()).path("error").path("type").asText()).isEqualTo("bad_request");
            assertThat(json(byId.get("fine").value()).path("status").asText()).isEqualTo("ok");

            List<ConsumerRecord<String, byte[]>> dead = TestKafka.readKeys(caravan.dlqTopic,
                    List.of("big-answer", "big-task"), Duration.ofSeconds(30));
            Map<String, ConsumerRecord<String, byte[]>> deadById = new java.util.HashMap<>();
            dead.forEach(r -> deadById.put(r.key(), r));
            // the task whose result was too large: its own record, unchanged (it fits)
            ConsumerRecord<String, byte[]> answerLetter = deadById.get("big-answer");
            assertThat(header(answerLetter, KafkaIntake.ERROR_TYPE_HEADER)).isEqualTo("result_too_large");
            assertThat(answerLetter.value()).isEqualTo(task("big-answer", "BIG-ANSWER please"));
            // the task too large to be a dead letter: where it is instead of its bytes
            ConsumerRecord<String, byte[]> taskLetter = deadById.get("big-task");
            assertThat(header(taskLetter, KafkaIntake.ERROR_TYPE_HEADER)).isEqualTo("bad_request");
            assertThat(header(taskLetter, KafkaIntake.ORIGINAL_TOPIC_HEADER)).isEqualTo(caravan.tasksTopic);
            assertThat(header(taskLetter, KafkaIntake.ORIGINAL_PARTITION_HEADER)).isEqualTo("0");
            assertThat(header(taskLetter, KafkaIntake.ORIGINAL_OFFSET_HEADER)).isEqualTo("1");
            assertThat(header(taskLetter, KafkaIntake.ORIGINAL_BYTES_HEADER)).isEqualTo(String.valueOf(bigTask.length));
            assertThat(taskLetter.value()).isEmpty();

            await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(
                    TestKafka.committed(caravan.group, caravan.tasksTopic, 0)).isEqualTo(3));
            assertThat(caravan.app().inFlight().inFlight()).isZero();
        }
    }

    @Test
    void aResultOverOneMebibyteIsPublishedWholeOnADefaultBrokerThanksToCompression() throws Exception {
        try (Caravan caravan = Caravan.start(catalog(), Map.of(), Map.of())) {
            TestKafka.sendToPartition(caravan.tasksTopic, 0, List.of(task("long-answer", "LONG-TEXT-ANSWER please")));

            List<ConsumerRecord<String, byte[]>> results = TestKafka.readKeys(caravan.resultsTopic,
                    List.of("long-answer"), Duration.ofSeconds(60));
            assertThat(results).hasSize(1);
            // over the broker's default limit (1 MiB) as it is, far under it compressed
            assertThat(results.get(0).value().length).isGreaterThan(1_100_000);
            JsonNode result = json(results.get(0).value());
            assertThat(result.path("status").asText()).isEqualTo("ok");
            assertThat(result.path("output").path("content").asText()).hasSize(LONG_ANSWER.length());
            await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(
                    TestKafka.committed(caravan.group, caravan.tasksTopic, 0)).isEqualTo(1));
        }
    }
}
