package io.caravan.intake;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.support.Caravan;
import io.caravan.support.CaravanProcess;
import io.caravan.support.TestKafka;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Two Caravans in one consumer group share the partitions; when one stops, the other finishes the work. */
class SharedGroupTest {

    @Test
    void twoInstancesShareTheTasksAndTheSurvivorTakesOverWithNothingLost() throws Exception {
        String prefix = Caravan.newPrefix();
        String tasks = prefix + ".tasks";
        TestKafka.createTopic(tasks, 4);
        Map<String, String> settings = Map.of("caravan.max-in-flight", "16", "caravan.shutdown.grace", "10s");
        String catalog = KafkaProcessTest.catalog("100ms");
        int total = 300;
        Caravan a = Caravan.start(catalog, Map.of(), settings, prefix);
        try (Caravan b = Caravan.start(catalog, Map.of(), settings, prefix)) {
            CaravanProcess.awaitGroupMembers(prefix + "-group", 2, Duration.ofSeconds(30));
            KafkaProcessTest.produce(tasks, "s-", total);
            Map<String, Integer> early = KafkaProcessTest.results(prefix + ".results",
                    KafkaProcessTest.ids("s-", total), 60, Duration.ofSeconds(30));
            assertThat(early.size()).isBetween(60, total - 1);
            long byA = a.app().inFlight().admitted();
            long byB = b.app().inFlight().admitted();
            assertThat(byA).isPositive();
            assertThat(byB).isPositive();
            a.close(); // mid-stream: A finishes and commits what it holds, B takes over its partitions
            Map<String, Integer> all = KafkaProcessTest.results(prefix + ".results",
                    KafkaProcessTest.ids("s-", total), 0, Duration.ofSeconds(60));
            assertThat(all.keySet()).containsAll(KafkaProcessTest.ids("s-", total));
            int duplicates = all.values().stream().mapToInt(c -> c - 1).sum();
            System.out.println("shared group: A took " + byA + ", B took " + byB + " before A stopped; "
                    + duplicates + " answered twice");
            // A stopped gracefully: what it answered was committed, so B answered nothing again
            assertThat(duplicates).isZero();
        } finally {
            a.close();
        }
    }
}
