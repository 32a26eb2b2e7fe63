package io.caravan.intake;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Many Kafka tasks in flight, commits in order per partition, and backpressure at the in-flight limit. */
class InFlightKafkaTest {

    static WireMockServer upstream;

    @BeforeAll
    static void startUpstream() {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("fast", 10, 0, 5))));
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("SLOW-ME"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withFixedDelay(6000).withBody(Upstreams.completion("slow", 10, 0, 5))));
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("WAIT-1S"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withFixedDelay(1000).withBody(Upstreams.completion("waited", 10, 0, 5))));
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("WAIT-400MS"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withFixedDelay(400).withBody(Upstreams.completion("waited", 10, 0, 5))));
    }

    @AfterAll
    static void stopUpstream() {
        upstream.stop();
    }

    static String catalog() {
        return """
                providers:
                  kimi:
                    api: openai
                    base_url: http://127.0.0.1:%d/v1
                    api_keys: ["sk-inflight-test"]
                    retries: 0
                    timeout: 20s
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
        return ("{\"id\":\"" + id + "\",\"prompt\":\"" + prompt + "\"}").getBytes(StandardCharsets.UTF_8);
    }

    static Set<String> resultIds(Caravan caravan, int atLeast, Duration within) {
        return TestKafka.read(caravan.resultsTopic, atLeast, within).stream().map(ConsumerRecord::key)
                .collect(Collectors.toSet());
    }

    @Test
    void aSlowTaskHoldsItsPartitionsCommitBackWhileTheFastOnesAfterItAreAnswered() throws Exception {
        try (Caravan caravan = Caravan.start(catalog(), Map.of(), Map.of("caravan.max-in-flight", "64"))) {
            List<byte[]> values = new ArrayList<>();
            values.add(task("slow-0", "SLOW-ME please"));
            for (int i = 1; i <= 20; i++) {
                values.add(task("fast-" + i, "quick one " + i));
            }
            TestKafka.sendToPartition(caravan.tasksTopic, 0, values);

            Set<String> early = resultIds(caravan, 20, Duration.ofSeconds(5));
            assertThat(early).hasSize(20).doesNotContain("slow-0");
            // every fast task is answered and acknowledged, yet nothing is committed past the slow one
            for (int i = 0; i < 5; i++) {
                assertThat(TestKafka.committed(caravan.group, caravan.tasksTopic, 0)).isLessThanOrEqualTo(0);
                Thread.sleep(200);
            }
            await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(
                    TestKafka.committed(caravan.group, caravan.tasksTopic, 0)).isEqualTo(21));
            assertThat(resultIds(caravan, 21, Duration.ofSeconds(5))).contains("slow-0");
        }
    }

    @Test
    void manySlowTasksAreWaitedOnAtOnce() throws Exception {
        try (Caravan caravan = Caravan.start(catalog(), Map.of(), Map.of("caravan.max-in-flight", "64"))) {
            List<byte[]> values = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                values.add(task("wait-" + i, "WAIT-1S " + i));
            }
            long start = System.nanoTime();
            TestKafka.sendToPartition(caravan.tasksTopic, 1, values);
            assertThat(resultIds(caravan, 40, Duration.ofSeconds(15))).hasSize(40);
            // one at a time this would take 40 s
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(
                    TestKafka.committed(caravan.group, caravan.tasksTopic, 1)).isEqualTo(40));
        }
    }

    @Test
    void atTheLimitThePartitionsPauseInsteadOfBuffering() throws Exception {
        try (Caravan caravan = Caravan.start(catalog(), Map.of(), Map.of("caravan.max-in-flight", "3"))) {
            List<byte[]> values = new ArrayList<>();
            for (int i = 0; i < 15; i++) {
                values.add(task("bp-" + i, "WAIT-400MS " + i));
            }
            long start = System.nanoTime();
            TestKafka.sendToPartition(caravan.tasksTopic, 0, values);
            int most = 0;
            while (Duration.ofNanos(System.nanoTime() - start).toMillis() < 1500) {
                most = Math.max(most, caravan.app().inFlight().inFlight());
                Thread.sleep(5);
            }
            // the limit being worked on, plus at most the rest of the poll that reached it (max-poll-records = 3)
            assertThat(most).isBetween(3, 5);
            assertThat(resultIds(caravan, 15, Duration.ofSeconds(15))).hasSize(15);
            // 15 tasks of 400 ms, 3 at a time: at least 2 s
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(Duration.ofMillis(1900));
        }
    }
}
