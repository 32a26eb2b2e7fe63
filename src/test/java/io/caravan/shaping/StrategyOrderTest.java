package io.caravan.shaping;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.dispatch.strategy.CostStrategy;
import io.caravan.dispatch.strategy.DeploymentStats;
import io.caravan.dispatch.strategy.LatencyStrategy;
import io.caravan.dispatch.strategy.LeastBusyStrategy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The strategies' orderings without a Caravan around them: buffers, ties and failover order. */
class StrategyOrderTest {

    static DeploymentSpec d(String id, double in, double out) {
        return new DeploymentSpec(id, "g", "p", "m", null, null, new Price(in, null, out), 1);
    }

    static List<String> firsts(List<List<DeploymentSpec>> orders) {
        List<String> out = new ArrayList<>();
        orders.forEach(o -> out.add(o.get(0).id()));
        return out;
    }

    @Test
    void latencyNearEqualDeploymentsShareAndTheSlowOneIsOnlyFailover() {
        DeploymentStats stats = new DeploymentStats();
        LatencyStrategy latency = new LatencyStrategy(stats);
        DeploymentSpec a = d("a", 1, 1);
        DeploymentSpec b = d("b", 1, 1);
        DeploymentSpec c = d("c", 1, 1);
        for (var e : List.of(new Object[] {a, 100L}, new Object[] {b, 115L}, new Object[] {c, 300L})) {
            DeploymentSpec dep = (DeploymentSpec) e[0];
            stats.begin(dep.id());
            stats.end(dep.id(), (Long) e[1]);
        }
        List<List<DeploymentSpec>> orders = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            orders.add(latency.order("g", List.of(a, b, c)));
        }
        // b is within 20% of a: they alternate; c (3x slower) comes last every time
        assertThat(firsts(orders)).containsExactly("a", "b", "a", "b");
        assertThat(orders).allSatisfy(o -> assertThat(o.get(2).id()).isEqualTo("c"));
    }

    @Test
    void costOrdersByPriceAndEqualPricesShare() {
        CostStrategy cost = new CostStrategy();
        DeploymentSpec dear = d("dear", 5, 15);
        DeploymentSpec cheap1 = d("cheap1", 1, 2);
        DeploymentSpec cheap2 = d("cheap2", 2, 1);
        List<List<DeploymentSpec>> orders = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            orders.add(cost.order("g", List.of(dear, cheap1, cheap2)));
        }
        assertThat(firsts(orders)).containsOnly("cheap1", "cheap2").contains("cheap1", "cheap2");
        assertThat(orders).allSatisfy(o -> assertThat(o.get(2).id()).isEqualTo("dear"));
    }

    @Test
    void leastBusyPutsTheBusiestLast() {
        DeploymentStats stats = new DeploymentStats();
        LeastBusyStrategy busy = new LeastBusyStrategy(stats);
        DeploymentSpec a = d("a", 1, 1);
        DeploymentSpec b = d("b", 1, 1);
        stats.begin("a");
        stats.begin("a");
        stats.begin("b");
        assertThat(busy.order("g", List.of(a, b))).extracting(DeploymentSpec::id).containsExactly("b", "a");
        stats.end("a", -1);
        stats.end("a", -1);
        assertThat(busy.order("g", List.of(a, b))).extracting(DeploymentSpec::id).containsExactly("a", "b");
    }
}
