package io.caravan.support;

import io.caravan.util.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Several whole Caravans in one consumer group (one JVM, the shared test broker), on one catalog, for the fleet's
 * tests and its bench: tasks go to the shared tasks topic, results are read back from the results topic.
 */
public final class FleetRig implements AutoCloseable {

    public final String prefix = Caravan.newPrefix();
    public final List<Caravan> instances = new ArrayList<>();

    public FleetRig(int count, int partitions, String catalog, Map<String, String> settings) throws Exception {
        TestKafka.createTopic(prefix + ".tasks", partitions);
        TestKafka.createTopic(prefix + ".usage", 1);
        try {
            for (int i = 0; i < count; i++) {
                Map<String, String> own = new HashMap<>(settings);
                own.put("caravan.instance-id", prefix + "-i" + i);
                instances.add(Caravan.start(catalog, Map.of(), own, prefix));
            }
            CaravanProcess.awaitGroupMembers(prefix + "-group", count, Duration.ofSeconds(60));
        } catch (Exception e) {
            close();
            throw e;
        }
    }

    /** Sends {@code count} tasks to the shared tasks topic, ids {@code idPrefix0..}. */
    public void produce(String idPrefix, int count, String model) {
        try (KafkaProducer<String, byte[]> producer = TestKafka.producer()) {
            for (int i = 0; i < count; i++) {
                String id = idPrefix + i;
                producer.send(new ProducerRecord<>(prefix + ".tasks", id, ("{\"id\":\"" + id + "\",\"model\":\""
                        + model + "\",\"prompt\":\"task " + i + "\"}").getBytes(StandardCharsets.UTF_8)));
            }
            producer.flush();
        }
    }

    /** Reads results until {@code count} distinct tasks have one (or the time is up): result by task id. */
    public Map<String, JsonNode> results(int count, Duration within) throws Exception {
        Map<String, JsonNode> out = new HashMap<>();
        long end = System.nanoTime() + within.toNanos();
        try (KafkaConsumer<String, byte[]> consumer = TestKafka.reader(TestKafka.bootstrapServers(), "earliest")) {
            consumer.subscribe(List.of(prefix + ".results"));
            while (System.nanoTime() < end && out.size() < count) {
                for (var r : consumer.poll(Duration.ofMillis(200))) {
                    out.put(r.key(), Json.MAPPER.readTree(r.value()));
                }
            }
        }
        return out;
    }

    @Override
    public void close() throws Exception {
        for (Caravan c : instances) {
            c.close();
        }
    }
}
