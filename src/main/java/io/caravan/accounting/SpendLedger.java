package io.caravan.accounting;

import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.DoubleAdder;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Month-to-date spend (USD, UTC months) per tier and per tenant, read from the usage topic: Kafka is the source
 * of truth, so restarts and several instances sharing the topic agree. At start-up a plain consumer (no group,
 * no commits) is assigned every partition, seeks to the first record of the current month and reads up to the
 * end offsets seen then ({@link #rebuilt()}); after that the same thread keeps consuming new events.
 */
public final class SpendLedger implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SpendLedger.class);
    private static final Duration PARTITION_RECHECK = Duration.ofSeconds(10);

    private final Properties consumerProps;
    private final String topic;
    private final Map<YearMonth, MonthSpend> months = new ConcurrentHashMap<>();
    private final CountDownLatch rebuilt = new CountDownLatch(1);
    private volatile KafkaConsumer<byte[], byte[]> consumer;
    private volatile boolean running;
    private volatile long rebuildMillis = -1;
    private volatile long rebuildEvents;
    private Thread thread;

    /** The spend of one month. */
    static final class MonthSpend {
        final Map<String, DoubleAdder> tiers = new ConcurrentHashMap<>();
        final Map<String, DoubleAdder> tenants = new ConcurrentHashMap<>();
        final DoubleAdder total = new DoubleAdder();
    }

    public SpendLedger(String bootstrapServers, String topic) {
        this.topic = topic;
        Properties p = new Properties();
        if (bootstrapServers != null) {
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        }
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        // spend may lag a quarter second; under load the reader then takes events in batches, not one fetch each
        p.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, "65536");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "250");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "caravan-spend-ledger");
        this.consumerProps = p;
    }

    /** Starts the background reader; returns at once. */
    public synchronized SpendLedger start() {
        if (!consumerProps.containsKey(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG)) {
            // no broker (a batch run without Kafka): no month-to-date spend to read, budgets count from zero
            rebuilt.countDown();
            return this;
        }
        if (thread == null) {
            running = true;
            thread = new Thread(this::loop, "caravan-spend-ledger");
            thread.setDaemon(true);
            thread.start();
        }
        return this;
    }

    /** True once every event of the current month that was on the topic at start-up has been read. */
    public boolean rebuilt() {
        return rebuilt.getCount() == 0;
    }

    public boolean awaitRebuilt(Duration within) throws InterruptedException {
        return rebuilt.await(within.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** How long the start-up rebuild took (ms), or -1 while it runs. */
    public long rebuildMillis() {
        return rebuildMillis;
    }

    public long rebuildEvents() {
        return rebuildEvents;
    }

    public double tierSpend(String tier) {
        return tier == null ? 0 : sum(current().tiers.get(tier));
    }

    public double tenantSpend(String tenant) {
        return tenant == null ? 0 : sum(current().tenants.get(tenant));
    }

    public double totalSpend() {
        return current().total.sum();
    }

    public Map<String, Double> tierSpends() {
        return snapshot(current().tiers);
    }

    public Map<String, Double> tenantSpends() {
        return snapshot(current().tenants);
    }

    public static YearMonth thisMonth() {
        return YearMonth.now(ZoneOffset.UTC);
    }

    private MonthSpend current() {
        return months.computeIfAbsent(thisMonth(), m -> new MonthSpend());
    }

    private static double sum(DoubleAdder adder) {
        return adder == null ? 0 : adder.sum();
    }

    private static Map<String, Double> snapshot(Map<String, DoubleAdder> values) {
        Map<String, Double> out = new TreeMap<>();
        values.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    /** Adds one event to the month it belongs to; events of earlier months are ignored. */
    void add(UsageEvent event) {
        if (event == null || event.costUsd() == 0) {
            return;
        }
        YearMonth month = YearMonth.from(event.ts().atZone(ZoneOffset.UTC));
        if (month.isBefore(thisMonth())) {
            return;
        }
        MonthSpend spend = months.computeIfAbsent(month, m -> new MonthSpend());
        spend.total.add(event.costUsd());
        if (event.tier() != null) {
            spend.tiers.computeIfAbsent(event.tier(), t -> new DoubleAdder()).add(event.costUsd());
        }
        if (event.tenant() != null) {
            spend.tenants.computeIfAbsent(event.tenant(), t -> new DoubleAdder()).add(event.costUsd());
        }
    }

    private void loop() {
        long started = System.nanoTime();
        long events = 0;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps)) {
            consumer = c;
            List<TopicPartition> assigned = new ArrayList<>();
            Map<TopicPartition, Long> rebuildEnd = null;
            long nextPartitionCheck = 0;
            while (running) {
                if (System.nanoTime() >= nextPartitionCheck) {
                    try {
                        List<TopicPartition> added = assignNewPartitions(c, assigned);
                        if (rebuildEnd == null) {
                            rebuildEnd = new HashMap<>(c.endOffsets(added, Duration.ofSeconds(10)));
                        }
                        // a topic that does not exist yet is looked for again soon
                        nextPartitionCheck = System.nanoTime()
                                + (assigned.isEmpty() ? Duration.ofMillis(500) : PARTITION_RECHECK).toNanos();
                    } catch (org.apache.kafka.common.errors.TimeoutException e) {
                        LOG.warn("spend ledger cannot read {} yet: {}", topic, e.getMessage());
                        nextPartitionCheck = System.nanoTime() + Duration.ofSeconds(1).toNanos();
                    }
                }
                if (!rebuilt() && caughtUp(c, rebuildEnd)) {
                    finishRebuild(started, events);
                }
                if (assigned.isEmpty()) {
                    sleep(200);
                    continue;
                }
                ConsumerRecords<byte[], byte[]> records = c.poll(Duration.ofMillis(rebuilt() ? 500 : 100));
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    add(UsageEvent.parse(r.value(), r.timestamp()));
                    events++;
                }
                if (!rebuilt() && caughtUp(c, rebuildEnd)) {
                    finishRebuild(started, events);
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (Exception e) {
            if (running) {
                LOG.error("spend ledger stopped reading {}: {}", topic, e.toString());
            }
        } finally {
            consumer = null;
        }
    }

    private void finishRebuild(long startedNanos, long events) {
        rebuildMillis = (System.nanoTime() - startedNanos) / 1_000_000L;
        rebuildEvents = events;
        rebuilt.countDown();
        LOG.info("spend ledger rebuilt from {}: {} events read in {} ms, month-to-date ({}) spend {} USD",
                topic, events, rebuildMillis, thisMonth(), String.format(java.util.Locale.ROOT, "%.6f", totalSpend()));
    }

    /** Assigns partitions not yet assigned and seeks each to the first record of the current month. */
    private List<TopicPartition> assignNewPartitions(KafkaConsumer<byte[], byte[]> c, List<TopicPartition> assigned) {
        List<PartitionInfo> infos = c.partitionsFor(topic, Duration.ofSeconds(10));
        List<TopicPartition> added = new ArrayList<>();
        if (infos == null) {
            return added;
        }
        for (PartitionInfo info : infos) {
            TopicPartition tp = new TopicPartition(info.topic(), info.partition());
            if (!assigned.contains(tp)) {
                added.add(tp);
            }
        }
        if (added.isEmpty()) {
            return added;
        }
        assigned.addAll(added);
        c.assign(assigned);
        long monthStart = thisMonth().atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC).toEpochMilli();
        Map<TopicPartition, Long> query = new HashMap<>();
        added.forEach(tp -> query.put(tp, monthStart));
        Map<TopicPartition, OffsetAndTimestamp> found = c.offsetsForTimes(query, Duration.ofSeconds(10));
        Map<TopicPartition, Long> ends = c.endOffsets(added, Duration.ofSeconds(10));
        for (TopicPartition tp : added) {
            OffsetAndTimestamp at = found.get(tp);
            c.seek(tp, at != null ? at.offset() : ends.getOrDefault(tp, 0L));
        }
        return added;
    }

    /** Whether the consumer has read every partition up to these end offsets (false while they are unknown). */
    static boolean caughtUp(KafkaConsumer<byte[], byte[]> c, Map<TopicPartition, Long> ends) {
        if (ends == null) {
            return false;
        }
        for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
            if (c.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public Instant monthStart() {
        return thisMonth().atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
    }

    @Override
    public synchronized void close() {
        running = false;
        KafkaConsumer<byte[], byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        if (thread != null) {
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            thread = null;
        }
    }
}
