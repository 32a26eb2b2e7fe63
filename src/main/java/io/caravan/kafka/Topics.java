package io.caravan.kafka;

import io.caravan.Setting;
import io.caravan.Settings;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates Caravan's topics (tasks, results, usage, dead letters, batches) when they are missing, so that a consumer
 * of results can subscribe before the first task. Existing topics are left as they are. Partitions come from
 * {@code caravan.topics.partitions}; replicas from {@code caravan.topics.replication}, else the broker's own
 * {@code default.replication.factor}.
 */
public final class Topics {

    private static final Logger LOG = LoggerFactory.getLogger(Topics.class);

    private Topics() {}

    /** The names of Caravan's topics under these settings, in a stable order. */
    public static List<String> names(Settings settings) {
        Set<String> names = new LinkedHashSet<>();
        names.add(settings.get(Setting.TOPICS_TASKS));
        names.add(settings.get(Setting.TOPICS_RESULTS));
        names.add(settings.get(Setting.TOPICS_USAGE));
        names.add(settings.get(Setting.TOPICS_DLQ));
        names.add(settings.get(Setting.TOPICS_BATCHES));
        return new ArrayList<>(names);
    }

    /**
     * How Caravan makes one of its topics: the settings' partitions and replicas; the usage topic, the spend ledger,
     * keeps a month's events (the broker's 7-day default would lose them); the batches topic is compacted (one record
     * per open batch, a tombstone once settled) and takes a batch record of {@code caravan.batch.max-record-bytes}.
     */
    public static NewTopic spec(Settings settings, String name) {
        int partitions = settings.get(Setting.TOPICS_PARTITIONS);
        Optional<Short> replicas = Optional.ofNullable(settings.get(Setting.TOPICS_REPLICATION));
        if (partitions < 1 || replicas.map(r -> r < 1).orElse(false)) {
            throw new IllegalArgumentException("settings caravan.topics.partitions and .replication must be positive");
        }
        NewTopic topic = new NewTopic(name, Optional.of(partitions), replicas);
        if (name.equals(settings.get(Setting.TOPICS_USAGE))) {
            return topic.configs(Map.of("retention.ms",
                    String.valueOf(settings.get(Setting.TOPICS_USAGE_RETENTION).toMillis())));
        }
        if (name.equals(settings.get(Setting.TOPICS_BATCHES))) {
            long maxRecordBytes = settings.get(Setting.BATCH_MAX_RECORD_BYTES);
            return topic.configs(Map.of("cleanup.policy", "compact",
                    "max.message.bytes", String.valueOf(Math.max(1_048_576, maxRecordBytes + 65_536))));
        }
        return topic;
    }

    /**
     * Creates the missing topics and returns the names created. A broker that refuses (no permission, topics
     * managed elsewhere) is logged, not fatal: the router still runs on whatever topics there are.
     */
    public static List<String> create(Settings settings, String bootstrapServers) {
        return create(bootstrapServers, names(settings).stream().map(name -> spec(settings, name)).toList());
    }

    /** Creates those of {@code wanted} that are missing (see {@link #spec}) and returns the names created. */
    public static List<String> create(String bootstrapServers, List<NewTopic> wanted) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "caravan-topics");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        List<String> created = new ArrayList<>();
        try (Admin admin = Admin.create(p)) {
            for (Map.Entry<String, KafkaFuture<Void>> result : admin.createTopics(wanted).values().entrySet()) {
                try {
                    result.getValue().get(30, TimeUnit.SECONDS);
                    created.add(result.getKey());
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        LOG.warn("cannot create topic {} on {}: {}", result.getKey(), bootstrapServers,
                                e.getCause().getMessage());
                    }
                } catch (java.util.concurrent.TimeoutException e) {
                    LOG.warn("cannot create topic {} on {}: no answer within 30 s", result.getKey(), bootstrapServers);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!created.isEmpty()) {
            LOG.info("created topics {} ({} partitions each)", created, wanted.get(0).numPartitions());
        }
        return created;
    }
}
