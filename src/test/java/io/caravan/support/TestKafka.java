package io.caravan.support;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import kafka.testkit.KafkaClusterTestKit;
import org.apache.kafka.common.utils.Exit;
import kafka.testkit.TestKitNodes;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A real single-node KRaft broker in the test JVM (Kafka's own KafkaClusterTestKit), started once and shared by
 * every test class; tests keep apart by using topics and consumer groups of their own.
 */
public final class TestKafka {

    private static KafkaClusterTestKit cluster;

    private TestKafka() {}

    public static synchronized String bootstrapServers() {
        if (cluster == null) {
            try {
                KafkaClusterTestKit kit = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
                        .setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1).build())
                        .setConfigProp("offsets.topic.replication.factor", "1")
                        .setConfigProp("offsets.topic.num.partitions", "1")
                        .setConfigProp("group.initial.rebalance.delay.ms", "0")
                        .setConfigProp("num.partitions", "2")
                        .setConfigProp("auto.create.topics.enable", "true")
                        .build();
                kit.format();
                kit.startup();
                kit.waitForReadyBrokers();
                cluster = kit;
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    // the test JVM is going away: a broker fault while it closes (log dirs or the controller
                    // timing out under load) must not halt the JVM with status 1 and fail a run whose tests passed
                    Exit.setHaltProcedure((status, message) ->
                            System.err.println("test broker asked to halt (" + status + ") while closing: " + message));
                    Exit.setExitProcedure((status, message) ->
                            System.err.println("test broker asked to exit (" + status + ") while closing: " + message));
                    try {
                        kit.close();
                    } catch (Exception ignored) {
                        // the JVM is going away
                    }
                }));
            } catch (Exception e) {
                throw new IllegalStateException("cannot start the test Kafka broker", e);
            }
        }
        return cluster.bootstrapServers();
    }

    public static KafkaProducer<String, byte[]> producer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        return new KafkaProducer<>(p);
    }

    public static void send(String topic, String key, byte[] value, Map<String, String> headers) {
        try (KafkaProducer<String, byte[]> producer = producer()) {
            ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic, key, value);
            headers.forEach((k, v) -> record.headers().add(k, v.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            producer.send(record).get();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads a topic from the start until {@code count} records arrived or the time is up. */
    public static List<ConsumerRecord<String, byte[]>> read(String topic, int count, Duration within) {
        return readUntil(topic, records -> records.size() >= count, within);
    }

    /** Reads a topic from the start until records with all these keys arrived or the time is up. */
    public static List<ConsumerRecord<String, byte[]>> readKeys(String topic, java.util.Collection<String> keys,
            Duration within) {
        return readUntil(topic, records -> records.stream().map(ConsumerRecord::key)
                .collect(java.util.stream.Collectors.toSet()).containsAll(keys), within);
    }

    public static java.util.Set<String> keys(List<ConsumerRecord<String, byte[]>> records) {
        return records.stream().map(ConsumerRecord::key).collect(java.util.stream.Collectors.toSet());
    }

    /** A consumer in a group of its own (nothing committed before it), string keys and byte values. */
    public static KafkaConsumer<String, byte[]> reader(String bootstrapServers, String autoOffsetReset) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "test-reader-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, autoOffsetReset);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    /** Reads a topic from the start until {@code done} says so or the time is up. */
    public static List<ConsumerRecord<String, byte[]>> readUntil(String topic,
            java.util.function.Predicate<List<ConsumerRecord<String, byte[]>>> done, Duration within) {
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        long end = System.nanoTime() + within.toNanos();
        try (KafkaConsumer<String, byte[]> consumer = reader(bootstrapServers(), "earliest")) {
            consumer.subscribe(List.of(topic));
            while (!done.test(records) && System.nanoTime() < end) {
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }

    /** Sends these values to one partition of a topic (keys null), in order, and waits for the broker. */
    public static void sendToPartition(String topic, int partition, List<byte[]> values) {
        try (KafkaProducer<String, byte[]> producer = producer()) {
            List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
            for (byte[] value : values) {
                sent.add(producer.send(new ProducerRecord<>(topic, partition, null, value)));
            }
            for (var f : sent) {
                f.get();
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Creates a topic with this many partitions. */
    public static void createTopic(String topic, int partitions) {
        try (org.apache.kafka.clients.admin.Admin admin = admin()) {
            admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(topic, partitions, (short) 1)))
                    .all().get();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The group's committed offset of one partition, or -1 when none. */
    public static long committed(String group, String topic, int partition) {
        try (org.apache.kafka.clients.admin.Admin admin = admin()) {
            var offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            var offset = offsets.get(new org.apache.kafka.common.TopicPartition(topic, partition));
            return offset == null ? -1 : offset.offset();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public static org.apache.kafka.clients.admin.Admin admin() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrapServers());
        return org.apache.kafka.clients.admin.Admin.create(p);
    }
}
