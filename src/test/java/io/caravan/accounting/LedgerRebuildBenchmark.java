package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.caravan.support.TestKafka;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * How long the spend ledger takes to rebuild from 100,000 usage events (the README's number). Not part of the
 * suite: {@code mvn -q -B test -Dtest=LedgerRebuildBenchmark -Dcaravan.bench=true}.
 */
@EnabledIfSystemProperty(named = "caravan.bench", matches = "true")
class LedgerRebuildBenchmark {

    static final int EVENTS = Integer.getInteger("caravan.bench.events", 100_000);

    @Test
    void rebuildFromOneHundredThousandUsageEvents() throws Exception {
        String topic = "bench-usage-" + UUID.randomUUID().toString().substring(0, 8);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, TestKafka.bootstrapServers());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, "262144");
        String[] tiers = {"fast", "balanced", "powerful"};
        String[] tenants = {"acme", "globex", "initech", null};
        double expected = 0;
        int bytes = 0;
        long produceStart = System.nanoTime();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p)) {
            List<java.util.concurrent.Future<?>> last = new ArrayList<>();
            for (int i = 0; i < EVENTS; i++) {
                double cost = (i % 97) * 0.000123;
                expected += cost;
                String json = UsageSeed.event("task-" + i, 1, Instant.now(), tiers[i % 3], "group-" + (i % 5),
                        "group-" + (i % 5) + "#0", "provider-" + (i % 4), "ok", 1200, 100, 350, cost, false,
                        tenants[i % 4]);
                byte[] value = json.getBytes(StandardCharsets.UTF_8);
                bytes += value.length;
                var f = producer.send(new ProducerRecord<>(topic, "task-" + i, value));
                if (i >= EVENTS - 1) {
                    last.add(f);
                }
            }
            producer.flush();
            for (var f : last) {
                f.get();
            }
        }
        long produceMs = (System.nanoTime() - produceStart) / 1_000_000;

        long wallStart = System.nanoTime();
        java.util.concurrent.ExecutorService readerThread = java.util.concurrent.Executors.newSingleThreadExecutor();
        try (SpendLedger ledger = new SpendLedger(TestKafka.bootstrapServers(), topic).start(readerThread)) {
            assertThat(ledger.awaitRebuilt(Duration.ofMinutes(5))).isTrue();
            long wallMs = (System.nanoTime() - wallStart) / 1_000_000;
            System.out.printf("LEDGER REBUILD: %d events (%.1f MB) in %d ms (ledger's own timer %d ms), %.0f events/s;"
                    + " producing them took %d ms%n", ledger.rebuildEvents(), bytes / 1e6, wallMs,
                    ledger.rebuildMillis(), ledger.rebuildEvents() * 1000.0 / Math.max(1, wallMs), produceMs);
            assertThat(ledger.rebuildEvents()).isEqualTo(EVENTS);
            assertThat(ledger.totalSpend()).isCloseTo(expected, within(1e-6));
        } finally {
            readerThread.shutdownNow();
        }

        long reportStart = System.nanoTime();
        List<UsageEvent> events = new ArrayList<>();
        UsageTopicReader.read(TestKafka.bootstrapServers(), topic, null, events::add);
        UsageReport report = UsageReport.of(events, UsageReport.By.TIER);
        System.out.printf("REPORT: %d events read and grouped in %d ms%n", report.total().attempts(),
                (System.nanoTime() - reportStart) / 1_000_000);
        assertThat(report.total().spendUsd()).isCloseTo(expected, within(1e-6));
    }
}
