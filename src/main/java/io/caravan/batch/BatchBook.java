package io.caravan.batch;

import io.caravan.kafka.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The open batches this instance owns. The compacted topic {@code llm.batches} holds every open batch (key: its
 * id; a tombstone once it is settled); the instances of a fleet read it in one consumer group, and each batch
 * belongs to whoever holds its partition: that instance submits it, polls it, emits its answers and rescues its
 * tasks. On every assignment the partition is read from its beginning (nothing is ever committed), so a restarted
 * or surviving instance rebuilds the batches it now owns, as the spend ledger rebuilds the month from
 * {@code llm.usage}; a batch is worked on only once its partition is read up to where it ended at assignment.
 */
public final class BatchBook implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(BatchBook.class);

    private final Map<String, OpenBatch> open = new ConcurrentHashMap<>();
    private final Set<Integer> ready = ConcurrentHashMap.newKeySet();
    // held by the owner's tick while it works on batches, and by a rebalance taking partitions away: a batch is
    // never worked on here once another instance may own it (the group waits for the revocation to return)
    private final java.util.concurrent.Semaphore working = new java.util.concurrent.Semaphore(1);
    private final String topic;
    private final NewTopic spec;
    private final Properties props;
    private volatile boolean running;
    private java.util.concurrent.Future<?> reader;
    private volatile KafkaConsumer<String, byte[]> consumer;

    /** {@code spec}: the batches topic as {@link io.caravan.kafka.Topics#spec} makes it. */
    public BatchBook(String bootstrapServers, NewTopic spec, String group, int sessionTimeoutMs) {
        this.topic = spec.name();
        this.spec = spec;
        this.props = new Properties();
        if (bootstrapServers != null) {
            props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        }
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, String.valueOf(sessionTimeoutMs));
        props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, String.valueOf(Math.max(100, sessionTimeoutMs / 4)));
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    }

    /**
     * Creates the compacted topic when missing (`caravan run` has made it with the others; a Caravan started
     * another way has not), then follows it on one thread of {@code threads} until {@link #close()} or until the
     * executor is shut down.
     */
    public void start(java.util.concurrent.ExecutorService threads) {
        if (!props.containsKey(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG)) {
            return; // no broker (a batch run): nothing to own
        }
        createTopic();
        running = true;
        reader = threads.submit(this::follow);
    }

    private void createTopic() {
        try {
            Topics.create((String) props.get(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG), List.of(spec));
        } catch (RuntimeException e) {
            LOG.warn("cannot create the batches topic {}: {}", topic, e.toString());
        }
    }

    private void follow() {
        Map<TopicPartition, Long> targets = new HashMap<>();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(props)) {
            consumer = c;
            c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> lost) {
                    drop(lost, targets);
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> lost) {
                    drop(lost, targets);
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
                    c.seekToBeginning(assigned);
                    targets.putAll(c.endOffsets(assigned));
                    LOG.info("batches: now owning partitions {}", assigned);
                }
            });
            while (running) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(100))) {
                    apply(r);
                }
                for (Map.Entry<TopicPartition, Long> t : new ArrayList<>(targets.entrySet())) {
                    if (!ready.contains(t.getKey().partition()) && c.position(t.getKey()) >= t.getValue()) {
                        ready.add(t.getKey().partition());
                    }
                }
            }
        } catch (WakeupException | org.apache.kafka.common.errors.InterruptException e) {
            // closing, or the executor taking its thread back
        } catch (RuntimeException e) {
            LOG.error("the batches reader stopped: open batches are no longer worked on by this instance", e);
        } finally {
            consumer = null;
        }
    }

    private void drop(Collection<TopicPartition> lost, Map<TopicPartition, Long> targets) {
        if (lost.isEmpty()) {
            return;
        }
        boolean held = false;
        try {
            held = working.tryAcquire(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            forget(lost, targets);
        } finally {
            if (held) {
                working.release();
            }
        }
    }

    private void forget(Collection<TopicPartition> lost, Map<TopicPartition, Long> targets) {
        Set<Integer> gone = new HashSet<>();
        lost.forEach(tp -> {
            gone.add(tp.partition());
            targets.remove(tp);
            ready.remove(tp.partition());
        });
        open.values().removeIf(b -> gone.contains(b.partition()));
        if (!lost.isEmpty()) {
            LOG.info("batches: partitions {} moved to another instance", lost);
        }
    }

    private void apply(ConsumerRecord<String, byte[]> r) {
        if (r.key() == null) {
            return;
        }
        if (r.value() == null) {
            open.remove(r.key());
            return;
        }
        OpenBatch batch;
        try {
            batch = OpenBatch.read(r.value());
        } catch (RuntimeException e) {
            LOG.warn("skipping record {} of {} at {}-{}: {}", r.key(), topic, r.partition(), r.offset(), e.getMessage());
            return;
        }
        batch.partition(r.partition());
        open.merge(r.key(), batch, (mine, read) -> read.version() > mine.version() ? read : mine);
    }

    /**
     * Starts a tick: the owned batches that may be worked on now (their partition read up to date), oldest first;
     * empty when a rebalance is taking partitions away. {@link #tickDone()} must follow.
     */
    public List<OpenBatch> workable() {
        List<OpenBatch> out = new ArrayList<>();
        try {
            if (!working.tryAcquire(1, TimeUnit.SECONDS)) {
                return out;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return out;
        }
        ticking = true;
        for (OpenBatch b : open.values()) {
            if (ready.contains(b.partition())) {
                out.add(b);
            }
        }
        out.sort(java.util.Comparator.comparing(OpenBatch::created));
        return out;
    }

    private volatile boolean ticking;

    /** Ends a tick begun by {@link #workable()}. */
    public void tickDone() {
        if (ticking) {
            ticking = false;
            working.release();
        }
    }

    /** Forgets a batch once its tombstone is written. */
    public void closed(OpenBatch batch) {
        open.remove(batch.id(), batch);
    }

    public Collection<OpenBatch> all() {
        return open.values();
    }

    public int size() {
        return open.size();
    }

    /** Unsettled tasks in the batches this instance owns. */
    public long waitingTasks() {
        long n = 0;
        for (OpenBatch b : open.values()) {
            n += b.unsettled();
        }
        return n;
    }

    /** Whether every assigned partition is read (for tests and readiness). */
    public boolean caughtUp() {
        return running && !ready.isEmpty();
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        KafkaConsumer<String, byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        if (reader != null) {
            try {
                reader.get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException
                    | java.util.concurrent.CancellationException e) {
                LOG.warn("the batches reader did not stop cleanly: {}", e.toString());
            }
            reader = null;
        }
    }

    /** When a record time-stamp says a batch was made (for status). */
    static Duration age(OpenBatch b, Instant now) {
        return Duration.between(b.created(), now);
    }
}
