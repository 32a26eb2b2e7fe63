package io.caravan.intake;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Which offsets of each partition are being worked on, and how far each partition may be committed: only up to
 * the highest offset below which every admitted record is acknowledged. Tasks finish out of order; a slow task
 * holds its partition's commit back until it is done, so a crash never skips it.
 *
 * <p>State of a partition belongs to the thread that admitted its records (the Kafka consumer thread that owns
 * it), so that each consumer thread only commits, or forgets, its own partitions. Thread-safe.
 */
public final class OffsetTracker {

    private final Map<TopicPartition, PartitionState> partitions = new HashMap<>();

    /** Notes a record handed over for work (called on the consumer thread that polled it). */
    public synchronized void admit(TopicPartition partition, long offset) {
        PartitionState state = partitions.get(partition);
        if (state == null || state.owner != Thread.currentThread()) {
            state = new PartitionState(Thread.currentThread());
            partitions.put(partition, state);
        }
        // a record polled again (after a rebalance or a seek) keeps its entry: whichever copy finishes, its
        // result is out, so the offset may be committed
        state.pending.putIfAbsent(offset, Boolean.FALSE);
    }

    /**
     * Whether this record is still being worked on here: admitted, not yet acknowledged, its partition not given
     * up (after a rebalance took the partition away, its next owner reads the record again).
     */
    public synchronized boolean unfinished(TopicPartition partition, long offset) {
        PartitionState state = partitions.get(partition);
        return state != null && Boolean.FALSE.equals(state.pending.get(offset));
    }

    /** Notes that a record's result is acknowledged by the broker. Unknown partitions or offsets: ignored. */
    public synchronized void acknowledge(TopicPartition partition, long offset) {
        PartitionState state = partitions.get(partition);
        if (state != null && state.pending.containsKey(offset)) {
            state.pending.put(offset, Boolean.TRUE);
        }
    }

    /**
     * The commits this consumer thread may make now: for each partition it admitted and still owns, the offset
     * after the longest acknowledged run from the oldest unfinished record, when that is past what was last
     * committed. Partitions the thread admitted but no longer owns are forgotten (no commit for them, ever).
     */
    public synchronized Map<TopicPartition, OffsetAndMetadata> commitsFor(Set<TopicPartition> owned) {
        Map<TopicPartition, OffsetAndMetadata> commits = new HashMap<>();
        Iterator<Map.Entry<TopicPartition, PartitionState>> it = partitions.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<TopicPartition, PartitionState> entry = it.next();
            PartitionState state = entry.getValue();
            if (state.owner != Thread.currentThread()) {
                continue;
            }
            if (!owned.contains(entry.getKey())) {
                it.remove();
                continue;
            }
            long next = -1;
            while (!state.pending.isEmpty() && state.pending.firstEntry().getValue()) {
                next = state.pending.pollFirstEntry().getKey() + 1;
            }
            if (next > state.committing) {
                state.committing = next;
                commits.put(entry.getKey(), new OffsetAndMetadata(next));
            }
        }
        return commits;
    }

    /** The broker confirmed these commits. */
    public synchronized void committed(Map<TopicPartition, OffsetAndMetadata> offsets) {
        offsets.forEach((partition, offset) -> {
            PartitionState state = partitions.get(partition);
            if (state != null && offset.offset() > state.committed) {
                state.committed = offset.offset();
            }
        });
    }

    /** A commit failed: the offsets may be committed again next time. */
    public synchronized void commitFailed(Map<TopicPartition, OffsetAndMetadata> offsets) {
        offsets.forEach((partition, offset) -> {
            PartitionState state = partitions.get(partition);
            if (state != null && state.committing == offset.offset()) {
                state.committing = state.committed;
                // the run that was popped is gone from pending: re-add its end as done so it is committed again
                state.pending.putIfAbsent(offset.offset() - 1, Boolean.TRUE);
            }
        });
    }

    /** Whether nothing admitted is unfinished or uncommitted (for this thread's partitions, or all when null). */
    public synchronized boolean settled() {
        for (PartitionState state : partitions.values()) {
            if (!state.pending.isEmpty() || state.committing > state.committed) {
                return false;
            }
        }
        return true;
    }

    /** Records admitted and not yet committed, over all partitions (for logs and tests). */
    public synchronized int tracked() {
        return partitions.values().stream().mapToInt(s -> s.pending.size()).sum();
    }

    private static final class PartitionState {
        final Thread owner;
        final TreeMap<Long, Boolean> pending = new TreeMap<>();
        long committing = -1;
        long committed = -1;

        PartitionState(Thread owner) {
            this.owner = owner;
        }
    }
}
