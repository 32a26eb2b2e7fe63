package io.caravan.intake;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.component.kafka.KafkaConstants;
import org.apache.camel.component.kafka.consumer.CommitManager;
import org.apache.camel.component.kafka.consumer.KafkaManualCommit;
import org.apache.camel.component.kafka.consumer.KafkaManualCommitFactory;
import org.apache.camel.component.kafka.consumer.errorhandler.KafkaConsumerListener;
import org.apache.camel.component.kafka.consumer.support.ProcessingResult;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Many Kafka tasks in flight at once, committed in order. The consumer thread admits each record and hands it to
 * the worker route; workers acknowledge a record once its result (and dead letter) is on the broker. After every
 * poll, on the consumer thread itself (a KafkaConsumer is not thread-safe), this listener commits each owned
 * partition up to its highest contiguous acknowledged offset ({@link OffsetTracker}), and pauses the partitions
 * while {@code caravan.max-in-flight} tasks are being worked on, resuming them once a slot is free: backpressure
 * without an unbounded buffer and without blocking the poll loop.
 *
 * <p>Installed on the intake route's Kafka consumer as its {@link KafkaConsumerListener} (the hook camel-kafka
 * calls after each poll); Camel's own commit manager is a no-op here (a custom manual-commit factory).
 */
public final class KafkaInFlight extends KafkaConsumerListener {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaInFlight.class);
    static final String PARTITION = "caravanPartition";
    static final String OFFSET = "caravanOffset";
    static final String CONSUMER = "caravanKafkaConsumer";
    /** The record's in-flight slot: set when it is released, so it is released once whatever path ends the task. */
    static final String SLOT = "caravanInFlightSlot";

    private final int maxInFlight;
    private final OffsetTracker tracker = new OffsetTracker();
    private final AtomicInteger inFlight = new AtomicInteger();
    // tasks waiting in a batch being collected: unfinished offsets that are not a stall
    private final AtomicInteger parked = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicLong admitted = new java.util.concurrent.atomic.AtomicLong();
    private volatile boolean draining;
    private final ThreadLocal<Boolean> paused = ThreadLocal.withInitial(() -> Boolean.FALSE);
    private final FatalErrors fatal;
    // when a task last finished or a commit was confirmed (or work arrived after an idle spell): the watchdog's clock
    private volatile long lastProgressNanos = System.nanoTime();

    public KafkaInFlight(int maxInFlight) {
        this(maxInFlight, new FatalErrors());
    }

    public KafkaInFlight(int maxInFlight, FatalErrors fatal) {
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("setting caravan.max-in-flight: must be at least 1, not " + maxInFlight);
        }
        this.maxInFlight = maxInFlight;
        this.fatal = fatal;
    }

    /** On the consumer thread: the record joins the in-flight set of its partition. */
    public void admit(Exchange exchange) {
        Message in = exchange.getMessage();
        String topic = in.getHeader(KafkaConstants.TOPIC, String.class);
        Integer partition = in.getHeader(KafkaConstants.PARTITION, Integer.class);
        Long offset = in.getHeader(KafkaConstants.OFFSET, Long.class);
        TopicPartition tp = new TopicPartition(topic, partition);
        exchange.setProperty(PARTITION, tp);
        exchange.setProperty(OFFSET, offset);
        exchange.setProperty(SLOT, new AtomicBoolean());
        if (inFlight.get() == 0 && tracker.settled()) {
            // work after an idle spell: the stall clock starts now, not when the last task ended
            lastProgressNanos = System.nanoTime();
        }
        tracker.admit(tp, offset);
        admitted.incrementAndGet();
        if (inFlight.incrementAndGet() >= maxInFlight
                && exchange.getProperty(CONSUMER) instanceof Consumer<?, ?> consumer) {
            // the limit is reached: pause now, so the next poll brings nothing (the rest of this poll's records
            // still come in: at most max-poll-records - 1 over the limit)
            consumer.pause(consumer.assignment());
            paused.set(Boolean.TRUE);
        }
    }

    /** On a worker: the record's result (and dead letter) are acknowledged; its offset may be committed. */
    public void done(Exchange exchange) {
        if (!release(exchange)) {
            return;
        }
        TopicPartition tp = exchange.getProperty(PARTITION, TopicPartition.class);
        Long offset = exchange.getProperty(OFFSET, Long.class);
        if (tp != null && offset != null) {
            tracker.acknowledge(tp, offset);
        }
    }

    /**
     * On a worker: the result could not be published although it was retried (publishing gives up only when the
     * shutdown grace period is over), or the worker itself broke. The slot is freed but the offset stays
     * unfinished, so the partition is never committed past it: the next owner of the partition reads the task
     * again and answers it. A JVM error halts the process instead ({@link FatalErrors}).
     */
    public void failed(Exchange exchange) {
        Exception cause = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        fatal.check(cause, "the Kafka worker");
        if (!release(exchange)) {
            return;
        }
        LOG.error("result of {} offset {} not published; the offset is left for the partition's next owner: {}",
                exchange.getProperty(PARTITION), exchange.getProperty(OFFSET),
                cause == null ? "unknown error" : cause.toString());
    }

    /**
     * On a worker: Caravan is stopping and the task was ended before it was worked on (it was still waiting for a
     * provider's capacity, {@code dispatch/FairShare}). Its slot is freed and nothing of it is published or
     * committed: the partition's next owner reads the task again and answers it.
     */
    public void leave(Exchange exchange) {
        if (release(exchange)) {
            LOG.debug("stopping: {} offset {} left for the partition's next owner", exchange.getProperty(PARTITION),
                    exchange.getProperty(OFFSET));
        }
    }

    /**
     * On a worker: the task waits in a batch being collected. Its slot is freed (more tasks may come) but its offset
     * stays unfinished, holding its partition's commits back, until the batch holding it is recorded on the batches
     * topic and the action returned by {@link #acknowledgement} runs: a crash before that reads the task again.
     */
    public void park(Exchange exchange) {
        if (release(exchange)) {
            parked.incrementAndGet();
        }
    }

    /** What acknowledges the exchange's record later, from any thread (a no-op for a task not from Kafka). */
    public Runnable acknowledgement(Exchange exchange) {
        TopicPartition tp = exchange.getProperty(PARTITION, TopicPartition.class);
        Long offset = exchange.getProperty(OFFSET, Long.class);
        if (tp == null || offset == null) {
            return () -> { };
        }
        return () -> {
            tracker.acknowledge(tp, offset);
            parked.decrementAndGet();
            lastProgressNanos = System.nanoTime();
        };
    }

    /** Whether the exchange's record is still this instance's to answer (always, for a task not from Kafka). */
    public java.util.function.BooleanSupplier stillOurs(Exchange exchange) {
        TopicPartition tp = exchange.getProperty(PARTITION, TopicPartition.class);
        Long offset = exchange.getProperty(OFFSET, Long.class);
        if (tp == null || offset == null) {
            return () -> true;
        }
        return () -> tracker.unfinished(tp, offset);
    }

    /** Frees the exchange's slot if it still holds one; false when it was released already. */
    private boolean release(Exchange exchange) {
        AtomicBoolean slot = exchange.getProperty(SLOT, AtomicBoolean.class);
        if (slot != null && !slot.compareAndSet(false, true)) {
            return false;
        }
        inFlight.decrementAndGet();
        lastProgressNanos = System.nanoTime();
        return true;
    }

    /**
     * The watchdog: a description of the stall when Kafka tasks are waiting (in flight, or finished and not yet
     * committed) and none has finished and no commit was confirmed for {@code limit}; null when the intake moves.
     */
    public String stall(Duration limit) {
        long quietNanos = System.nanoTime() - lastProgressNanos;
        if (quietNanos < limit.toNanos()) {
            return null;
        }
        int working = inFlight.get();
        if (working == 0 && (tracker.settled() || tracker.tracked() <= parked.get())) {
            return null;
        }
        return "no Kafka task finished or committed for " + Duration.ofNanos(quietNanos).toSeconds() + "s with "
                + working + " in flight and " + tracker.tracked() + " uncommitted";
    }

    public int inFlight() {
        return inFlight.get();
    }

    /** Records taken from Kafka since start (a record read twice counts twice). */
    public long admitted() {
        return admitted.get();
    }

    public OffsetTracker tracker() {
        return tracker;
    }

    /** After each poll, on the consumer thread: commit what is finished, then pause or resume. */
    @Override
    public boolean afterConsume(Object polled) {
        if (!(polled instanceof Consumer<?, ?> consumer)) {
            return true;
        }
        Map<TopicPartition, OffsetAndMetadata> commits = tracker.commitsFor(consumer.assignment());
        if (!commits.isEmpty()) {
            consumer.commitAsync(commits, (offsets, error) -> {
                if (error == null) {
                    tracker.committed(offsets);
                    lastProgressNanos = System.nanoTime();
                } else {
                    LOG.warn("commit of {} failed, retried after the next poll: {}", offsets, error.getMessage());
                    tracker.commitFailed(offsets);
                }
            });
        }
        boolean full = draining || inFlight.get() >= maxInFlight;
        if (full) {
            // also pauses partitions assigned since the last pause
            consumer.pause(consumer.assignment());
            paused.set(Boolean.TRUE);
        } else if (paused.get()) {
            consumer.resume(consumer.paused());
            paused.set(Boolean.FALSE);
        }
        return true;
    }

    @Override
    public boolean afterProcess(ProcessingResult result) {
        return true;
    }

    /**
     * Stops taking new records and waits, up to {@code grace}, until every task in flight is answered and its
     * offset committed. Returns whether everything settled; what did not is read again by the next owner.
     */
    public boolean drain(Duration grace) throws InterruptedException {
        draining = true;
        long deadline = System.nanoTime() + grace.toNanos();
        LOG.info("draining: {} tasks in flight, waiting up to {}", inFlight.get(), grace);
        while (System.nanoTime() < deadline) {
            if (inFlight.get() == 0 && tracker.settled()) {
                LOG.info("drained: every task answered and committed");
                return true;
            }
            Thread.sleep(50);
        }
        LOG.warn("grace period over with {} tasks in flight: they are handed back to the group", inFlight.get());
        return false;
    }

    /**
     * The manual-commit factory of the intake endpoint: neither camel-kafka's sync nor async one, so its commit
     * manager stays a no-op and never commits a record just because the route handed it over. Commits are made
     * by {@link #afterConsume(Object)} alone.
     */
    public static final class NoCommits implements KafkaManualCommitFactory {
        @Override
        public KafkaManualCommit newInstance(CamelExchangePayload exchange, KafkaRecordPayload record,
                CommitManager commitManager) {
            // called on the consumer thread before the record is processed: admit() may pause this consumer
            exchange.exchange.setProperty(CONSUMER, exchange.consumer);
            return () -> {
                throw new UnsupportedOperationException("offsets are committed by KafkaInFlight, in order");
            };
        }
    }
}
