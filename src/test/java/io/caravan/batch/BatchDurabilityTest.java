package io.caravan.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.caravan.support.BatchUpstream;
import io.caravan.support.Caravan;
import io.caravan.support.CaravanProcess;
import io.caravan.support.TestKafka;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Nothing lost, nothing paid twice: a Caravan killed (SIGKILL, a child JVM) while its batch is open at the provider,
 * or while it is still collecting, and two instances sharing the batches topic.
 */
class BatchDurabilityTest {

    static BatchUpstream upstream;

    @BeforeAll
    static void start() throws Exception {
        upstream = new BatchUpstream();
    }

    @AfterAll
    static void stop() {
        upstream.close();
    }

    /** kimi-k2 collects for {@code collect}, slow-k2 for {@code slowCollect}: both on the test provider. */
    static String catalog(String collect, String slowCollect) {
        return """
                providers:
                  kimi:
                    api: openai
                    base_url: %1$s
                    api_keys: ["sk-batch-test-key"]
                    retries: 0
                    batch: {collect: %2$s, poll: 100ms, min_slack: 1h}
                  slow:
                    api: openai
                    base_url: %1$s
                    api_keys: ["sk-batch-test-key"]
                    retries: 0
                    batch: {collect: %3$s, poll: 100ms, min_slack: 1h}
                models:
                  - name: kimi-k2
                    provider: kimi
                    model: kimi-k2
                    price: {input: 0.60, output: 2.50}
                  - name: slow-k2
                    provider: slow
                    model: slow-k2
                    price: {input: 0.60, output: 2.50}
                tiers:
                  balanced: {model: kimi-k2}
                default_tier: balanced
                """.formatted(upstream.baseUrl(), collect, slowCollect);
    }

    static Map<String, String> settings(String prefix) {
        Map<String, String> s = new HashMap<>();
        s.put("caravan.topics.batches", prefix + ".batches");
        s.put("caravan.batch.tick", "50ms");
        s.put("caravan.batch.session-timeout-ms", "6000");
        s.put("caravan.kafka.session-timeout-ms", "6000");
        s.put("caravan.kafka.poll-timeout-ms", "200");
        s.put("caravan.fleet.share", "false");
        return s;
    }

    static List<String> send(String topic, String idPrefix, int n) {
        return send(topic, idPrefix, n, "kimi-k2");
    }

    static List<String> send(String topic, String idPrefix, int n, String model) {
        List<String> ids = new ArrayList<>();
        try (var producer = TestKafka.producer()) {
            for (int i = 0; i < n; i++) {
                String id = idPrefix + i;
                ids.add(id);
                producer.send(new ProducerRecord<>(topic, id, ("{\"id\":\"" + id + "\",\"prompt\":\"task " + i
                        + "\",\"model\":\"" + model + "\",\"max_delay\":\"24h\"}").getBytes(StandardCharsets.UTF_8)));
            }
        }
        return ids;
    }

    /** Each of these ids exactly once on the results topic. */
    static void answeredOnce(String resultsTopic, List<String> ids) throws Exception {
        List<ConsumerRecord<String, byte[]>> records = TestKafka.readKeys(resultsTopic, ids, Duration.ofSeconds(60));
        Map<String, Integer> counts = new HashMap<>();
        records.forEach(r -> counts.merge(r.key(), 1, Integer::sum));
        Thread.sleep(1000); // a duplicate would come within this
        records = TestKafka.readUntil(resultsTopic, r -> r.size() >= counts.values().stream().mapToInt(i -> i).sum(),
                Duration.ofSeconds(10));
        counts.clear();
        records.forEach(r -> counts.merge(r.key(), 1, Integer::sum));
        for (String id : ids) {
            assertThat(counts.get(id)).as("results of " + id).isEqualTo(1);
        }
    }

    @Test
    void aKilledInstanceLosesNoTaskCollectingOrInAnOpenBatchAndNoBatchIsSubmittedTwice() throws Exception {
        upstream.mode(BatchUpstream.Mode.HOLD);
        String prefix = Caravan.newPrefix();
        int created = upstream.creates.get();
        int requests = upstream.batchedRequests();
        CaravanProcess child = CaravanProcess.start(catalog("1s", "10m"), prefix, settings(prefix));
        List<String> open;
        List<String> collecting;
        try {
            open = send(prefix + ".tasks", "kill-", 40);
            // the batch is at the provider and recorded; the tasks' offsets are committed
            await().atMost(Duration.ofSeconds(120)).untilAsserted(() -> {
                assertThat(upstream.creates.get() - created).isEqualTo(1);
                assertThat(BatchTierTest.committedTotal(prefix + "-group", prefix + ".tasks")).isEqualTo(40);
            });
            // these wait in a batch still collecting (10 minutes): read, and not committed
            collecting = send(prefix + ".tasks", "col-", 20, "slow-k2");
            Thread.sleep(2000);
            assertThat(BatchTierTest.committedTotal(prefix + "-group", prefix + ".tasks")).isEqualTo(40);
        } finally {
            child.close(); // SIGKILL
        }
        try (Caravan next = Caravan.start(catalog("1s", "500ms"), Map.of(), settings(prefix), prefix)) {
            upstream.release();
            List<String> all = new ArrayList<>(open);
            all.addAll(collecting);
            answeredOnce(next.resultsTopic, all);
            // the open batch was taken over, not submitted again; the collecting tasks went in new batches
            assertThat(upstream.batchedRequests() - requests).as("requests sent in batches").isEqualTo(60);
        } finally {
            upstream.mode(BatchUpstream.Mode.COMPLETE);
        }
    }

    @Test
    void twoInstancesSharingTheBatchesTopicAnswerEachTaskOnce() throws Exception {
        upstream.mode(BatchUpstream.Mode.COMPLETE);
        String prefix = Caravan.newPrefix();
        int requests = upstream.batchedRequests();
        try (Caravan a = Caravan.start(catalog("1s", "1s"), Map.of(), settings(prefix), prefix);
                Caravan b = Caravan.start(catalog("1s", "1s"), Map.of(), settings(prefix), prefix)) {
            // the steady state: both instances own tasks partitions and batches partitions
            CaravanProcess.awaitGroupMembers(prefix + "-group", 2, Duration.ofSeconds(60));
            CaravanProcess.awaitGroupMembers(prefix + "-group.batches", 2, Duration.ofSeconds(60));
            List<String> ids = send(a.tasksTopic, "two-", 200);
            answeredOnce(a.resultsTopic, ids);
            assertThat(upstream.batchedRequests() - requests).as("requests sent in batches").isEqualTo(200);
        }
    }
}
