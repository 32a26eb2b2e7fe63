package io.caravan.intake;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.caravan.support.BrokerProcess;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker goes away under a running Caravan ({@code kill -9}) and comes back on the same port and data: Kafka
 * processing resumes by itself, with no restart of Caravan, and every task gets its result.
 */
class BrokerRestartTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void afterABrokerRestartProcessingResumesByItselfWithNoTaskLost() throws Exception {
        int port = BrokerProcess.freePortPair();
        String prefix = Caravan.newPrefix();
        String tasks = prefix + ".tasks";
        String results = prefix + ".results";
        BrokerProcess broker = BrokerProcess.start(dir, port, Duration.ofSeconds(40));
        try {
            try (Admin admin = broker.admin()) {
                admin.createTopics(List.of(new NewTopic(tasks, 3, (short) 1), new NewTopic(results, 3, (short) 1)))
                        .all().get(20, TimeUnit.SECONDS);
            }
            try (Caravan caravan = Caravan.start(KafkaProcessTest.catalog("20ms"), Map.of(),
                    Map.of("caravan.max-in-flight", "32"), prefix, broker.bootstrapServers())) {
                produce(broker, tasks, "before-", 100);
                Map<String, String> before = results(broker, results, KafkaProcessTest.ids("before-", 100),
                        Duration.ofSeconds(30));
                assertThat(before.keySet()).containsAll(KafkaProcessTest.ids("before-", 100));

                broker.kill();
                // without its broker Caravan stays up, and says it is not ready
                assertThat(caravan.get("/health/live").statusCode()).isEqualTo(200);
                await().atMost(Duration.ofSeconds(15)).until(() -> caravan.get("/health/ready").statusCode() == 503);

                long down = System.nanoTime();
                // a combined KRaft node killed with -9 waits out its own old broker session (9 s) before it serves again
                broker = BrokerProcess.start(dir, port, Duration.ofSeconds(60));
                System.out.println("broker back after " + Duration.ofNanos(System.nanoTime() - down).toMillis() + " ms");
                produce(broker, tasks, "after-", 100);

                Set<String> all = new java.util.HashSet<>(KafkaProcessTest.ids("before-", 100));
                all.addAll(KafkaProcessTest.ids("after-", 100));
                long resumed = System.nanoTime();
                Map<String, String> status = results(broker, results, all, Duration.ofSeconds(90));
                System.out.println("200 results read " + Duration.ofNanos(System.nanoTime() - resumed).toMillis()
                        + " ms after the restarted broker took the tasks");
                assertThat(status.keySet()).as("task ids with a result").containsAll(all);
                assertThat(status).as("the results of each task").allSatisfy((id, s) -> assertThat(s).isEqualTo("ok"));

                assertThat(caravan.get("/health/live").statusCode()).isEqualTo(200);
                await().atMost(Duration.ofSeconds(20)).until(() -> caravan.get("/health/ready").statusCode() == 200);
            }
        } finally {
            broker.close();
        }
    }

    /** Sends tasks {@code prefix0..prefixN-1}; waits up to 30 s for the broker (e.g. just restarted). */
    private static void produce(BrokerProcess broker, String topic, String prefix, int count) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p)) {
            List<java.util.concurrent.Future<?>> sent = new java.util.ArrayList<>();
            for (int i = 0; i < count; i++) {
                String id = prefix + i;
                sent.add(producer.send(new ProducerRecord<>(topic, id,
                        ("{\"id\":\"" + id + "\",\"prompt\":\"task number " + i + "\"}").getBytes(StandardCharsets.UTF_8))));
            }
            for (var f : sent) {
                f.get(40, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * Reads the results topic from the start (a fresh group) until every id has a result or the time is up; the
     * status of each id's results (ok only when every result of that id is ok).
     */
    private static Map<String, String> results(BrokerProcess broker, String topic, Set<String> ids, Duration within)
            throws Exception {
        Map<String, String> status = new HashMap<>();
        long end = System.nanoTime() + within.toNanos();
        try (KafkaConsumer<String, byte[]> consumer = TestKafka.reader(broker.bootstrapServers(), "earliest")) {
            consumer.subscribe(List.of(topic));
            while (!status.keySet().containsAll(ids) && System.nanoTime() < end) {
                for (var r : consumer.poll(Duration.ofMillis(200))) {
                    JsonNode result = JSON.readTree(r.value());
                    // a task answered twice keeps a status other than ok if either answer had one
                    status.merge(r.key(), result.path("status").asText(), (a, b) -> "ok".equals(a) ? b : a);
                }
            }
        }
        return status;
    }
}
