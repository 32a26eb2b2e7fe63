package io.caravan.intake;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.caravan.support.BrokerProcess;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker goes away ({@code kill -9}) while a freshly started Caravan works on its first tasks, before it has
 * published any result (its producer knows nothing of the results topic yet and gives up waiting for it after
 * {@code max.block.ms}), and stays away for longer than that. The results are published once the broker is
 * back, without a restart of Caravan, and the offsets are committed.
 */
class PublishAfterOutageTest {

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void resultsThatCouldNotBePublishedDuringAnOutageArePublishedWhenTheBrokerIsBack() throws Exception {
        int port = BrokerProcess.freePortPair();
        String prefix = Caravan.newPrefix();
        String tasks = prefix + ".tasks";
        String results = prefix + ".results";
        BrokerProcess broker = BrokerProcess.start(dir, port, Duration.ofSeconds(40));
        try {
            try (Admin admin = broker.admin()) {
                admin.createTopics(List.of(new NewTopic(tasks, 1, (short) 1), new NewTopic(results, 1, (short) 1)))
                        .all().get(20, TimeUnit.SECONDS);
            }
            // each task takes 4 s at the (simulated) provider: time to take the broker away meanwhile
            try (Caravan caravan = Caravan.start(KafkaProcessTest.catalog("4s"), Map.of(),
                    Map.of("camel.component.kafka.max-block-ms", "2000",
                            "caravan.kafka.publish-retry-max-delay-ms", "2000"),
                    prefix, broker.bootstrapServers())) {
                produce(broker, tasks, 5);
                await().atMost(Duration.ofSeconds(30)).until(() -> caravan.app().inFlight().inFlight() == 5);

                broker.kill();
                // the tasks end and try to publish while the broker is away, several max.block.ms over: they keep
                // their slots all along (nothing given up, nothing parked)
                await().during(Duration.ofSeconds(10)).atMost(Duration.ofSeconds(12))
                        .until(() -> caravan.app().inFlight().inFlight() == 5);

                broker = BrokerProcess.start(dir, port, Duration.ofSeconds(60));
                List<String> ids = List.of("task-0", "task-1", "task-2", "task-3", "task-4");
                List<ConsumerRecord<String, byte[]>> published = read(broker, results, ids, Duration.ofSeconds(90));
                assertThat(TestKafka.keys(published)).containsAll(ids);

                BrokerProcess restarted = broker;
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(
                        committed(restarted, caravan.group, tasks)).isEqualTo(5));
                assertThat(caravan.app().inFlight().inFlight()).isZero();
            }
        } finally {
            broker.close();
        }
    }

    private static void produce(BrokerProcess broker, String topic, int count) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++) {
                String id = "task-" + i;
                producer.send(new ProducerRecord<>(topic, id,
                        ("{\"id\":\"" + id + "\",\"prompt\":\"task number " + i + "\"}").getBytes(StandardCharsets.UTF_8)))
                        .get(30, TimeUnit.SECONDS);
            }
        }
    }

    private static List<ConsumerRecord<String, byte[]>> read(BrokerProcess broker, String topic, List<String> ids,
            Duration within) {
        List<ConsumerRecord<String, byte[]>> records = new java.util.ArrayList<>();
        long end = System.nanoTime() + within.toNanos();
        try (KafkaConsumer<String, byte[]> consumer = TestKafka.reader(broker.bootstrapServers(), "earliest")) {
            consumer.subscribe(List.of(topic));
            while (!TestKafka.keys(records).containsAll(ids) && System.nanoTime() < end) {
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }

    private static long committed(BrokerProcess broker, String group, String topic) throws Exception {
        try (Admin admin = broker.admin()) {
            var offset = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()
                    .get(10, TimeUnit.SECONDS).get(new TopicPartition(topic, 0));
            return offset == null ? -1 : offset.offset();
        }
    }
}
