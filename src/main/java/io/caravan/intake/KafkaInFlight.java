package io.caravan.intake;

import java.time.Duration;
import java.util.Map;
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

    private final int maxInFlight;
    private final OffsetTracker tracker = new OffsetTracker();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicLong admitted = new java.util.concurrent.atomic.AtomicLong();
    private volatile boolean draining;
    private final ThreadLocal<Boolean> paused = ThreadLocal.withInitial(() -> Boolean.FALSE);

    public KafkaInFlight(int maxInFlight) {
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("setting caravan.max-in-flight: must be at least 1, not " + maxInFlight);
        }
        this.maxInFlight = maxInFlight;
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
        TopicPartition tp = exchange.getProperty(PARTITION, TopicPartition.class);
        Long offset = exchange.getProperty(OFFSET, Long.class);
        if (tp != null && offset != null) {
            tracker.acknowledge(tp, offset);
        }
        inFlight.decrementAndGet();
    }

    /**
     * On a worker: the result could not be published. The slot is freed but the offset stays unfinished, so the
     * partition is not committed past it: after a restart or rebalance the task is read and answered again.
     */
    public void failed(Exchange exchange) {
        Exception cause = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        LOG.error("result of {} offset {} not published; its partition is not committed past it until a restart: {}",
                exchange.getProperty(PARTITION), exchange.getProperty(OFFSET),
                cause == null ? "unknown error" : cause.getMessage());
        inFlight.decrementAndGet();
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
