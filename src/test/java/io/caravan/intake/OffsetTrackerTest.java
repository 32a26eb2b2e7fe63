package io.caravan.intake;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class OffsetTrackerTest {

    static final TopicPartition P0 = new TopicPartition("tasks", 0);
    static final TopicPartition P1 = new TopicPartition("tasks", 1);

    @Test
    void outOfOrderCompletionNeverCommitsPastAnUnfinishedRecord() {
        OffsetTracker tracker = new OffsetTracker();
        for (long o = 10; o < 15; o++) {
            tracker.admit(P0, o);
        }
        tracker.acknowledge(P0, 11);
        tracker.acknowledge(P0, 12);
        tracker.acknowledge(P0, 14);
        assertThat(tracker.commitsFor(Set.of(P0))).isEmpty();
        tracker.acknowledge(P0, 10);
        assertThat(tracker.commitsFor(Set.of(P0))).isEqualTo(Map.of(P0, new OffsetAndMetadata(13)));
        assertThat(tracker.commitsFor(Set.of(P0))).isEmpty();
        tracker.acknowledge(P0, 13);
        Map<TopicPartition, OffsetAndMetadata> last = tracker.commitsFor(Set.of(P0));
        assertThat(last).isEqualTo(Map.of(P0, new OffsetAndMetadata(15)));
        assertThat(tracker.settled()).isFalse();
        tracker.committed(last);
        assertThat(tracker.settled()).isTrue();
    }

    @Test
    void partitionsAreIndependent() {
        OffsetTracker tracker = new OffsetTracker();
        tracker.admit(P0, 0);
        tracker.admit(P1, 0);
        tracker.admit(P1, 1);
        tracker.acknowledge(P1, 1);
        tracker.acknowledge(P1, 0);
        assertThat(tracker.commitsFor(Set.of(P0, P1))).isEqualTo(Map.of(P1, new OffsetAndMetadata(2)));
    }

    @Test
    void aPartitionNoLongerOwnedIsNeverCommittedAndItsLateAcknowledgementsAreIgnored() {
        OffsetTracker tracker = new OffsetTracker();
        tracker.admit(P0, 5);
        tracker.admit(P1, 7);
        tracker.acknowledge(P0, 5);
        // P0 was revoked before the commit
        assertThat(tracker.commitsFor(Set.of(P1))).isEmpty();
        tracker.acknowledge(P1, 7);
        assertThat(tracker.commitsFor(Set.of(P0, P1))).isEqualTo(Map.of(P1, new OffsetAndMetadata(8)));
        tracker.acknowledge(P0, 5);
        assertThat(tracker.commitsFor(Set.of(P0, P1))).isEmpty();
    }

    @Test
    void aRecordPolledAgainAfterARebalanceIsTrackedOnce() {
        OffsetTracker tracker = new OffsetTracker();
        tracker.admit(P0, 0);
        tracker.admit(P0, 1);
        tracker.admit(P0, 0);
        tracker.acknowledge(P0, 0);
        tracker.acknowledge(P0, 1);
        assertThat(tracker.commitsFor(Set.of(P0))).isEqualTo(Map.of(P0, new OffsetAndMetadata(2)));
        assertThat(tracker.tracked()).isZero();
    }

    @Test
    void aFailedCommitIsMadeAgain() {
        OffsetTracker tracker = new OffsetTracker();
        tracker.admit(P0, 0);
        tracker.admit(P0, 1);
        tracker.acknowledge(P0, 0);
        tracker.acknowledge(P0, 1);
        Map<TopicPartition, OffsetAndMetadata> first = tracker.commitsFor(Set.of(P0));
        tracker.commitFailed(first);
        assertThat(tracker.commitsFor(Set.of(P0))).isEqualTo(Map.of(P0, new OffsetAndMetadata(2)));
    }

    @Test
    void anotherConsumerThreadDoesNotTouchThisThreadsPartitions() throws Exception {
        OffsetTracker tracker = new OffsetTracker();
        tracker.admit(P0, 0);
        tracker.acknowledge(P0, 0);
        Thread other = new Thread(() -> assertThat(tracker.commitsFor(Set.of())).isEmpty());
        other.start();
        other.join();
        assertThat(tracker.commitsFor(Set.of(P0))).isEqualTo(Map.of(P0, new OffsetAndMetadata(1)));
    }
}
