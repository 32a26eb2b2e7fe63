package io.caravan.intake;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.support.Caravan;
import io.caravan.support.CaravanProcess;
import io.caravan.support.TestKafka;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/** Caravan in a JVM of its own: killed with -9 and restarted, or stopped with SIGTERM, on a real broker. */
class KafkaProcessTest {

    static String catalog(String latency) {
        return """
                providers:
                  sim: {api: simulated, latency: %s}
                models:
                  - name: small
                    provider: sim
                    model: sim-small
                    price: {input: 0.10, output: 0.20}
                tiers:
                  fast: {model: small}
                default_tier: fast
                """.formatted(latency);
    }

    static void produce(String topic, String prefix, int count) {
        try (KafkaProducer<String, byte[]> producer = TestKafka.producer()) {
            for (int i = 0; i < count; i++) {
                String id = prefix + i;
                producer.send(new ProducerRecord<>(topic, id,
                        ("{\"id\":\"" + id + "\",\"prompt\":\"task number " + i + "\"}").getBytes(StandardCharsets.UTF_8)));
            }
            producer.flush();
        }
    }

    /** Reads the results topic until every id has a result (or the time is up); how many results each id got. */
    static Map<String, Integer> results(String topic, Set<String> ids, int atLeast, Duration within) {
        Map<String, Integer> counts = new HashMap<>();
        long end = System.nanoTime() + within.toNanos();
        try (KafkaConsumer<String, byte[]> consumer = TestKafka.reader(TestKafka.bootstrapServers(), "earliest")) {
            consumer.subscribe(List.of(topic));
            while (System.nanoTime() < end) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> counts.merge(r.key(), 1, Integer::sum));
                if (counts.keySet().containsAll(ids) || (atLeast > 0 && counts.size() >= atLeast)) {
                    break;
                }
            }
        }
        return counts;
    }

    static Set<String> ids(String prefix, int count) {
        Set<String> ids = new java.util.HashSet<>();
        for (int i = 0; i < count; i++) {
            ids.add(prefix + i);
        }
        return ids;
    }

    static long committedTotal(String group, String topic) {
        return TestKafka.committed(group, topic, 0) + TestKafka.committed(group, topic, 1);
    }

    @Test
    void killedMidFlightAndRestartedEveryTaskHasAResult() throws Exception {
        String prefix = Caravan.newPrefix();
        String tasks = prefix + ".tasks";
        TestKafka.createTopic(tasks, 2);
        int total = 400;
        int maxInFlight = 64;
        produce(tasks, "k-", total);
        // the killed instance's partitions move on after the session timeout (6 s: the broker's minimum)
        Map<String, String> settings = Map.of("caravan.max-in-flight", String.valueOf(maxInFlight),
                "caravan.kafka.session-timeout-ms", "6000");
        try (CaravanProcess first = CaravanProcess.start(catalog("300ms"), prefix, settings)) {
            Map<String, Integer> before = results(prefix + ".results", ids("k-", total), 100, Duration.ofSeconds(40));
            assertThat(before.size()).as(first.output()).isGreaterThanOrEqualTo(100).isLessThan(total);
            first.process.destroyForcibly().waitFor();
        }
        try (CaravanProcess second = CaravanProcess.start(catalog("300ms"), prefix, settings)) {
            Map<String, Integer> after = results(prefix + ".results", ids("k-", total), 0, Duration.ofSeconds(60));
            assertThat(after.keySet()).as(second.output()).containsAll(ids("k-", total));
            int duplicates = after.values().stream().mapToInt(c -> c - 1).sum();
            System.out.println("kill -9 and restart: " + total + " tasks, " + duplicates + " answered twice");
            // answered twice: at most what was in flight (or finished but not yet committed) at the kill
            assertThat(duplicates).isLessThanOrEqualTo(3 * maxInFlight);
        }
    }

    @Test
    void sigtermFinishesAndCommitsTheTasksInFlightThenExits() throws Exception {
        String prefix = Caravan.newPrefix();
        String tasks = prefix + ".tasks";
        TestKafka.createTopic(tasks, 2);
        try (CaravanProcess caravan = CaravanProcess.start(catalog("3s"), prefix,
                Map.of("caravan.max-in-flight", "32", "caravan.shutdown.grace", "20s"))) {
            CaravanProcess.awaitGroupMembers(prefix + "-group", 1, Duration.ofSeconds(30));
            produce(tasks, "g-", 20);
            Thread.sleep(1500); // polled and waiting on the provider
            assertThat(results(prefix + ".results", ids("g-", 20), 1, Duration.ofMillis(500))).isEmpty();
            long signalled = System.nanoTime();
            caravan.process.destroy(); // SIGTERM
            assertThat(caravan.process.waitFor(40, java.util.concurrent.TimeUnit.SECONDS)).as(caravan.output()).isTrue();
            // 0 from CaravanMain, or 143 (128 + SIGTERM) when the JVM's exit comes from the signal
            assertThat(caravan.process.exitValue()).as(caravan.output()).isIn(0, 143);
            assertThat(Duration.ofNanos(System.nanoTime() - signalled)).isLessThan(Duration.ofSeconds(25));
            Map<String, Integer> answered = results(prefix + ".results", ids("g-", 20), 0, Duration.ofSeconds(10));
            assertThat(answered.keySet()).as(caravan.output()).containsAll(ids("g-", 20));
            // and committed before the consumer closed: a new owner would not answer them again
            assertThat(committedTotal(prefix + "-group", tasks)).as(caravan.output()).isEqualTo(20);
            assertThat(caravan.output()).contains("drained");
        }
    }
}
