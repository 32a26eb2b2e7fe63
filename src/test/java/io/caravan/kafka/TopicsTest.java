package io.caravan.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.caravan.Settings;
import io.caravan.support.Caravan;
import io.caravan.support.CaravanProcess;
import io.caravan.support.TestKafka;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.clients.admin.TopicDescription;
import org.junit.jupiter.api.Test;

/** `caravan run` creates its four topics at start-up, before any task, and leaves existing ones alone. */
class TopicsTest {

    private static final String CATALOG = """
            providers:
              sim: {api: simulated}
            models:
              - {name: demo, provider: sim, model: demo-small}
            tiers:
              fast: {model: demo, max_score: 100}
            """;

    private static Map<String, TopicDescription> describe(List<String> topics) throws Exception {
        try (Admin admin = TestKafka.admin()) {
            return admin.describeTopics(topics).allTopicNames().get();
        }
    }

    private static List<String> topics(String prefix) {
        return List.of(prefix + ".tasks", prefix + ".results", prefix + ".usage", prefix + ".dlq");
    }

    @Test
    void runCreatesItsTopicsBeforeTheFirstTask() throws Exception {
        String prefix = Caravan.newPrefix();
        try (CaravanProcess caravan = CaravanProcess.start(CATALOG, prefix, Map.of())) {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                assertThat(caravan.process.isAlive()).as(caravan.output()).isTrue();
                Set<String> names;
                try (Admin admin = TestKafka.admin()) {
                    names = admin.listTopics().names().get();
                }
                assertThat(names).as(caravan.output()).containsAll(topics(prefix));
            });
        }
        assertThat(describe(topics(prefix)).values()).allSatisfy(d -> assertThat(d.partitions()).hasSize(3));
    }

    @Test
    void createsWhatIsMissingWithTheSettingsPartitionsAndLeavesExistingTopicsAlone() throws Exception {
        String prefix = Caravan.newPrefix();
        TestKafka.createTopic(prefix + ".results", 1);
        Settings settings = Settings.load().with("caravan.topics.tasks", prefix + ".tasks")
                .with("caravan.topics.results", prefix + ".results").with("caravan.topics.usage", prefix + ".usage")
                .with("caravan.topics.dlq", prefix + ".dlq").with("caravan.topics.partitions", "5");

        assertThat(Topics.create(settings, TestKafka.bootstrapServers()))
                .containsExactlyInAnyOrder(prefix + ".tasks", prefix + ".usage", prefix + ".dlq");
        assertThat(Topics.create(settings, TestKafka.bootstrapServers())).as("a second start").isEmpty();

        Map<String, Integer> partitions = describe(topics(prefix)).values().stream()
                .collect(Collectors.toMap(TopicDescription::name, d -> d.partitions().size()));
        assertThat(partitions).containsEntry(prefix + ".results", 1).containsEntry(prefix + ".tasks", 5)
                .containsEntry(prefix + ".usage", 5).containsEntry(prefix + ".dlq", 5);
        // the spend ledger reads a whole month back from the usage topic: the broker's 7-day default would lose it
        try (Admin admin = TestKafka.admin()) {
            ConfigResource usage = new ConfigResource(ConfigResource.Type.TOPIC, prefix + ".usage");
            assertThat(admin.describeConfigs(List.of(usage)).all().get().get(usage).get("retention.ms").value())
                    .isEqualTo(String.valueOf(Duration.ofDays(35).toMillis()));
        }
    }
}
