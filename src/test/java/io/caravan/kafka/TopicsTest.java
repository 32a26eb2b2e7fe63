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

/** `caravan run` creates its five topics at start-up, before any task, and leaves existing ones alone. */
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
        return List.of(prefix + ".tasks", prefix + ".results", prefix + ".usage", prefix + ".dlq", prefix + ".batches");
    }

    @Test
    void runCreatesItsTopicsBeforeTheFirstTask() throws Exception {
        String prefix = Caravan.newPrefix();
        try (CaravanProcess caravan = CaravanProcess.start(CATALOG, prefix,
                Map.of("caravan.topics.batches", prefix + ".batches"))) {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                assertThat(caravan.process.isAlive()).as(caravan.output()).isTrue();
                Set<String> names;
                try (Admin admin = TestKafka.admin()) {
                    names = admin.listTopics().names().get();
                }
                assertThat(names).as(caravan.output()).containsAll(topics(prefix));
            });
            // made with the others, before the batch book starts following it (it used to make it itself, late)
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(caravan.output())
                    .containsPattern("created topics \\[[^]]*" + prefix + "\\.batches"));
        }
        assertThat(describe(topics(prefix)).values()).allSatisfy(d -> assertThat(d.partitions()).hasSize(3));
    }

    @Test
    void createsWhatIsMissingWithTheSettingsPartitionsAndLeavesExistingTopicsAlone() throws Exception {
        String prefix = Caravan.newPrefix();
        TestKafka.createTopic(prefix + ".results", 1);
        Settings settings = Settings.load().with("caravan.topics.tasks", prefix + ".tasks")
                .with("caravan.topics.results", prefix + ".results").with("caravan.topics.usage", prefix + ".usage")
                .with("caravan.topics.dlq", prefix + ".dlq").with("caravan.topics.batches", prefix + ".batches")
                .with("caravan.topics.partitions", "5").with("caravan.batch.max-record-bytes", "4194304");

        assertThat(Topics.create(settings, TestKafka.bootstrapServers()))
                .containsExactlyInAnyOrder(prefix + ".tasks", prefix + ".usage", prefix + ".dlq", prefix + ".batches");
        assertThat(Topics.create(settings, TestKafka.bootstrapServers())).as("a second start").isEmpty();

        Map<String, Integer> partitions = describe(topics(prefix)).values().stream()
                .collect(Collectors.toMap(TopicDescription::name, d -> d.partitions().size()));
        assertThat(partitions).containsEntry(prefix + ".results", 1).containsEntry(prefix + ".tasks", 5)
                .containsEntry(prefix + ".usage", 5).containsEntry(prefix + ".dlq", 5)
                .containsEntry(prefix + ".batches", 5);
        // the spend ledger reads a whole month back from the usage topic: the broker's 7-day default would lose it
        try (Admin admin = TestKafka.admin()) {
            ConfigResource usage = new ConfigResource(ConfigResource.Type.TOPIC, prefix + ".usage");
            assertThat(admin.describeConfigs(List.of(usage)).all().get().get(usage).get("retention.ms").value())
                    .isEqualTo(String.valueOf(Duration.ofDays(35).toMillis()));
            // the batches topic holds one record per open batch, the latest by id: compacted, and a record as large
            // as caravan.batch.max-record-bytes (plus its envelope) fits
            ConfigResource batches = new ConfigResource(ConfigResource.Type.TOPIC, prefix + ".batches");
            var config = admin.describeConfigs(List.of(batches)).all().get().get(batches);
            assertThat(config.get("cleanup.policy").value()).isEqualTo("compact");
            assertThat(config.get("max.message.bytes").value()).isEqualTo(String.valueOf(4_194_304 + 65_536));
        }
    }
}
