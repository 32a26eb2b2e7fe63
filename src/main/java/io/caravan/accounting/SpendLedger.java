package io.caravan.accounting;

import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.EnumMap;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
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
 * end offsets seen then ({@link #rebuilt()}); after that the same reader keeps consuming new events. The reader runs
 * on the executor given to {@link #start} (Camel's, in Caravan, so it stops with the context).
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
    /** Records read while rebuilding (reader thread only, across restarts). */
    private long eventsRead;
    private Future<?> reader;

    // bounds: an outsider who can write the usage topic (or name tenants) must not grow the heap or /status
    private int maxTenantChars = io.caravan.Setting.TENANT_MAX_CHARS.read(null);
    private int maxTenants = io.caravan.Setting.LEDGER_MAX_TENANTS.read(null);
    private Supplier<Set<String>> budgetedTenants = Set::of;
    private final Map<UsageEvent.Rejection, LongAdder> rejected = new EnumMap<>(UsageEvent.Rejection.class);
    private final LongAdder untrackedTenantEvents = new LongAdder();

    // the reader restarts after a fault, with backoff; health reads these
    private Duration restartBackoff = io.caravan.Setting.LEDGER_RESTART_BACKOFF.read(null);
    private Duration restartBackoffMax = io.caravan.Setting.LEDGER_RESTART_BACKOFF_MAX.read(null);
    private Duration restartGrace = io.caravan.Setting.LEDGER_RESTART_GRACE.read(null);
    private final LongAdder restarts = new LongAdder();
    private volatile long faultSinceNanos;
    private volatile String lastFault;
    private volatile boolean readerDead;
    /** Where the reader goes on after a restart: the next offset of every partition it has read (reader thread only). */
    private final Map<TopicPartition, Long> positions = new HashMap<>();
    private final AtomicReference<Throwable> injectedFault = new AtomicReference<>();

    // the fleet follows the same records (FleetState), and wants to know how far behind they are
    private volatile java.util.function.Consumer<UsageEvent> follower = e -> { };
    private volatile long lastPollNanos;
    private volatile long caughtUpNanos;

    /** The spend of one month. Tenants past the tracked number add to {@code otherTenants}. */
    static final class MonthSpend {
        final Map<String, DoubleAdder> tiers = new ConcurrentHashMap<>();
        final Map<String, DoubleAdder> tenants = new ConcurrentHashMap<>();
        final DoubleAdder otherTenants = new DoubleAdder();
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
        for (UsageEvent.Rejection reason : UsageEvent.Rejection.values()) {
            rejected.put(reason, new LongAdder());
        }
    }

    /**
     * Bounds the tenant map: events whose tenant is longer than {@code maxTenantChars} are rejected (counted), and
     * once {@code maxTenants} tenants are tracked this month, further tenants' spend is summed as one "other
     * tenants" figure (tier and total spend still count it). Tenants with a budget are always tracked.
     */
    public SpendLedger bounded(int maxTenantChars, int maxTenants, Supplier<Set<String>> budgetedTenants) {
        this.maxTenantChars = maxTenantChars;
        this.maxTenants = maxTenants;
        this.budgetedTenants = budgetedTenants;
        return this;
    }

    /**
     * How the reader restarts after a fault: first after {@code backoff}, doubled up to {@code max} while faults
     * repeat; health reports it DOWN once it has been down for longer than {@code grace}.
     */
    public SpendLedger restarting(Duration backoff, Duration max, Duration grace) {
        this.restartBackoff = backoff;
        this.restartBackoffMax = max;
        this.restartGrace = grace;
        return this;
    }

    /**
     * Hands every usage event read, from the start-up rebuild on, to {@code follower} too (on the reader thread;
     * a follower that throws loses that event only).
     */
    public SpendLedger follow(java.util.function.Consumer<UsageEvent> follower) {
        this.follower = follower;
        return this;
    }

    /**
     * How far behind the end of the topic the reader is (ms): 0 while it is caught up; the time since it last was
     * when it is behind, or since its last read when it stopped reading. Long.MAX_VALUE before its first read.
     */
    public long lagMillis() {
        long caught = caughtUpNanos;
        if (caught == 0) {
            return Long.MAX_VALUE;
        }
        return Math.max(0, (System.nanoTime() - caught) / 1_000_000L);
    }

    /**
     * Starts the reader on one thread of {@code threads} and returns at once; the reader keeps that thread until
     * {@link #close()}, or until the executor is shut down (interrupting it stops the reader too).
     */
    public synchronized SpendLedger start(ExecutorService threads) {
        if (!consumerProps.containsKey(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG)) {
            // no broker (a batch run without Kafka): no month-to-date spend to read, budgets count from zero
            rebuilt.countDown();
            return this;
        }
        if (reader == null) {
            running = true;
            reader = threads.submit(this::supervise);
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

    /** Why the ledger cannot be trusted right now (health), or null when it is rebuilt and reading. */
    public String problem() {
        if (readerDead) {
            return "reader stopped: " + lastFault;
        }
        long since = faultSinceNanos;
        if (since != 0 && System.nanoTime() - since > restartGrace.toNanos()) {
            return "reader down since " + (System.nanoTime() - since) / 1_000_000L + " ms (" + lastFault
                    + "), restarting with backoff";
        }
        return rebuilt() ? null : "rebuilding from the usage topic";
    }

    /** Times the reader was restarted after a fault. */
    public long restarts() {
        return restarts.sum();
    }

    /** Usage records ignored because they cannot be usage events, for this reason. */
    public long rejected(UsageEvent.Rejection reason) {
        LongAdder n = rejected.get(reason);
        return n == null ? 0 : n.sum();
    }

    /** Events whose tenant was past the number of tracked tenants (counted under other tenants). */
    public long untrackedTenantEvents() {
        return untrackedTenantEvents.sum();
    }

    /** This month's spend of tenants past the number tracked. */
    public double otherTenantsSpend() {
        return current().otherTenants.sum();
    }

    /**
     * A test seam: the reader throws this once, at its next turn, as a fault from the consumer or a bug would.
     * Package-private on purpose.
     */
    void failOnce(Throwable fault) {
        injectedFault.set(fault);
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

    /** Reads one usage record into the ledger; an impossible one is counted and ignored. */
    void add(byte[] record, long recordTimestamp) {
        UsageEvent event;
        try {
            event = UsageEvent.read(record, recordTimestamp, maxTenantChars);
        } catch (UsageEvent.Rejected e) {
            rejected.get(e.reason()).increment();
            LOG.debug("spend ledger ignored a usage record: {}", e.getMessage());
            return;
        }
        try {
            follower.accept(event);
        } catch (RuntimeException e) {
            LOG.warn("the fleet could not apply a usage event: {}", e.toString());
        }
        add(event);
    }

    /** Adds one event to the month it belongs to; events of earlier months are ignored. */
    void add(UsageEvent event) {
        if (event == null || event.costUsd() == 0) {
            return;
        }
        YearMonth month = YearMonth.from(event.ts().atZone(ZoneOffset.UTC));
        YearMonth now = thisMonth();
        if (month.isBefore(now)) {
            return;
        }
        MonthSpend spend = months.get(month);
        if (spend == null) {
            months.keySet().removeIf(old -> old.isBefore(now)); // a month gone by is not looked at again
            spend = months.computeIfAbsent(month, m -> new MonthSpend());
        }
        spend.total.add(event.costUsd());
        if (event.tier() != null) {
            spend.tiers.computeIfAbsent(event.tier(), t -> new DoubleAdder()).add(event.costUsd());
        }
        String tenant = event.tenant();
        if (tenant != null) {
            DoubleAdder tracked = spend.tenants.get(tenant);
            if (tracked == null && spend.tenants.size() >= maxTenants && !budgetedTenants.get().contains(tenant)) {
                untrackedTenantEvents.increment();
                spend.otherTenants.add(event.costUsd());
                return;
            }
            (tracked != null ? tracked : spend.tenants.computeIfAbsent(tenant, t -> new DoubleAdder()))
                    .add(event.costUsd());
        }
    }

    /**
     * The reader thread: reads until closed; after any fault (an {@link Error} included, except a
     * {@link VirtualMachineError}) it logs, counts and starts again with a new consumer from where it was, after a
     * backoff that doubles while faults repeat.
     */
    private void supervise() {
        long started = System.nanoTime();
        long backoffMs = restartBackoff.toMillis();
        try {
            while (running) {
                long runStarted = System.nanoTime();
                Throwable fault;
                try {
                    read(started);
                    return;
                } catch (WakeupException e) {
                    if (!running) {
                        return;
                    }
                    fault = e;
                } catch (VirtualMachineError e) {
                    lastFault = e.toString();
                    throw e;
                } catch (Throwable e) {
                    if (!running || stopping(e)) {
                        running = false;
                        return;
                    }
                    fault = e;
                }
                if (faultSinceNanos == 0) {
                    faultSinceNanos = System.nanoTime();
                }
                lastFault = fault.toString();
                if (System.nanoTime() - runStarted > restartBackoffMax.toNanos() * 2) {
                    backoffMs = restartBackoff.toMillis(); // it ran well for a while: this is a new fault
                }
                restarts.increment();
                LOG.error("spend ledger reader of {} failed, restart {} in {} ms: {}", topic, restarts.sum(),
                        backoffMs, fault.toString());
                sleep(backoffMs);
                backoffMs = Math.min(backoffMs * 2, restartBackoffMax.toMillis());
            }
        } finally {
            consumer = null;
            if (running) {
                readerDead = true;
                LOG.error("spend ledger reader of {} stopped: {}", topic, lastFault);
            }
        }
    }

    /** Whether the reader's thread is being taken back (its executor shut down): that is a stop, not a fault. */
    private static boolean stopping(Throwable e) {
        return Thread.currentThread().isInterrupted() || e instanceof InterruptedException
                || e instanceof org.apache.kafka.common.errors.InterruptException;
    }

    /** One life of the reader: a consumer from where the last one stopped (or this month's start), until closed. */
    private void read(long startedNanos) {
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(consumerProps)) {
            consumer = c;
            if (!running) {
                return;
            }
            List<TopicPartition> assigned = new ArrayList<>();
            Map<TopicPartition, Long> rebuildEnd = null;
            long nextPartitionCheck = 0;
            while (running) {
                Throwable injected = injectedFault.getAndSet(null);
                if (injected instanceof Error error) {
                    throw error;
                } else if (injected != null) {
                    throw (RuntimeException) injected;
                }
                if (System.nanoTime() >= nextPartitionCheck) {
                    try {
                        List<TopicPartition> added = assignNewPartitions(c, assigned);
                        if (rebuildEnd == null && !rebuilt()) {
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
                faultSinceNanos = 0; // reading again
                if (!rebuilt() && caughtUp(c, rebuildEnd)) {
                    finishRebuild(startedNanos, eventsRead);
                }
                if (assigned.isEmpty()) {
                    sleep(200);
                    continue;
                }
                ConsumerRecords<byte[], byte[]> records = c.poll(Duration.ofMillis(rebuilt() ? 500 : 100));
                for (TopicPartition tp : records.partitions()) {
                    for (ConsumerRecord<byte[], byte[]> r : records.records(tp)) {
                        add(r.value(), r.timestamp());
                        positions.put(tp, r.offset() + 1);
                        eventsRead++;
                    }
                }
                if (!rebuilt() && caughtUp(c, rebuildEnd)) {
                    finishRebuild(startedNanos, eventsRead);
                }
                noteLag(c, assigned, records.isEmpty());
            }
        }
    }

    /** After a poll: caught up when the poll brought nothing or no assigned partition has records left to read. */
    private void noteLag(KafkaConsumer<byte[], byte[]> c, List<TopicPartition> assigned, boolean empty) {
        long now = System.nanoTime();
        lastPollNanos = now;
        boolean caught = empty;
        if (!caught) {
            caught = true;
            for (TopicPartition tp : assigned) {
                java.util.OptionalLong lag = c.currentLag(tp);
                if (lag.isPresent() && lag.getAsLong() > 0) {
                    caught = false;
                    break;
                }
            }
        }
        if (caught) {
            caughtUpNanos = now;
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
            Long readUpTo = positions.get(tp); // a restarted reader goes on where the last one stopped
            c.seek(tp, readUpTo != null ? readUpTo : at != null ? at.offset() : ends.getOrDefault(tp, 0L));
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

    /** Sleeps, waking early when the ledger closes. */
    private void sleep(long ms) {
        long until = System.nanoTime() + ms * 1_000_000L;
        try {
            while (running && System.nanoTime() < until) {
                Thread.sleep(Math.min(50, Math.max(1, (until - System.nanoTime()) / 1_000_000L)));
            }
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
        if (reader != null) {
            try {
                reader.get(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException | CancellationException e) {
                LOG.warn("spend ledger reader of {} did not stop cleanly: {}", topic, e.toString());
            }
            reader = null;
        }
    }
}
