package io.caravan.dispatch;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The order in which a provider's lane hands out calls to the tenants waiting in it (start-time fair queueing). */
class FairShareLaneTest {

    static final FairShare.Waiter TASK = new FairShare.Waiter(null, null, null, null, 0);

    static List<String> turns(FairShare.Lane lane, int n, java.util.Map<String, Integer> weights) {
        List<String> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String tenant = lane.next();
            lane.take(tenant);
            lane.served(tenant, weights.get(tenant));
            order.add(tenant);
        }
        return order;
    }

    @Test
    void tenantsTakeTurnsByWeightWhateverTheirNumberOfTasksWaiting() {
        FairShare.Lane lane = new FairShare.Lane();
        for (int i = 0; i < 100; i++) {
            lane.join("batch", TASK);
        }
        for (int i = 0; i < 6; i++) {
            lane.join("interactive", TASK);
        }
        List<String> order = turns(lane, 8, java.util.Map.of("batch", 1, "interactive", 3));
        // three turns of interactive's for each of batch's, though batch has 100 tasks waiting and interactive 6
        assertThat(order.stream().filter("interactive"::equals).count()).isEqualTo(6);
        assertThat(order.subList(0, 4)).containsOnlyOnce("batch");
        assertThat(order.subList(4, 8)).containsOnlyOnce("batch");
    }

    @Test
    void aTenantThatWasNotWaitingStartsLevelWithThoseThatAre() {
        FairShare.Lane lane = new FairShare.Lane();
        for (int i = 0; i < 50; i++) {
            lane.join("batch", TASK);
        }
        turns(lane, 40, java.util.Map.of("batch", 1)); // batch alone: 40 turns, no one else waiting
        for (int i = 0; i < 5; i++) {
            lane.join("interactive", TASK);
        }
        // interactive's time away is no credit (it does not get the next 40 turns), nor a debt: they alternate
        assertThat(turns(lane, 10, java.util.Map.of("batch", 1, "interactive", 1)))
                .filteredOn("interactive"::equals).hasSize(5);
        assertThat(lane.size).isEqualTo(5);
    }
}
