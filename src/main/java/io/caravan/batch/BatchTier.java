package io.caravan.batch;

import io.caravan.Setting;
import io.caravan.Settings;
import io.caravan.catalog.CatalogHolder;
import io.caravan.intake.KafkaInFlight;
import io.caravan.intake.TaskIntake;
import io.caravan.provider.BatchHttp;
import io.caravan.resilience.KeyPool;
import io.caravan.task.TaskContext;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Predicate;
import org.apache.camel.main.Main;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The batch tier's parts, bound for routes/batch.yaml: the path choice, the collector, the owner's book of open
 * batches and the work on them. Without a broker (a batch run) the path never picks batches.
 */
public final class BatchTier implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(BatchTier.class);

    private final BatchBook book;
    private final BatchRecords records;
    private final BatchCollector collector;
    private final BatchWork work;
    private final long maxRecordBytes;

    public BatchTier(Main main, Settings settings, CatalogHolder catalogs, KeyPool keys, KafkaInFlight inFlight,
            TaskIntake intake, MeterRegistry registry, String bootstrapServers) {
        String topic = settings.get(Setting.TOPICS_BATCHES);
        this.maxRecordBytes = settings.get(Setting.BATCH_MAX_RECORD_BYTES);
        Integer sessionMs = settings.get(Setting.BATCH_SESSION_TIMEOUT_MS);
        this.book = new BatchBook(bootstrapServers, io.caravan.kafka.Topics.spec(settings, topic),
                settings.get(Setting.CONSUMER_GROUP) + ".batches",
                sessionMs != null ? sessionMs : settings.get(Setting.KAFKA_SESSION_TIMEOUT_MS));
        this.records = bootstrapServers == null ? null : new BatchRecords(bootstrapServers, topic, maxRecordBytes);
        this.collector = new BatchCollector(inFlight, catalogs::current, maxRecordBytes);
        BatchHttp http = new BatchHttp(settings.get(Setting.BATCH_HTTP_TIMEOUT),
                settings.get(Setting.PROVIDER_MAX_RESPONSE_BYTES));
        this.work = new BatchWork(book, records, catalogs::current, keys, http, intake,
                settings.get(Setting.BATCH_RESCUE_MARGIN), settings.get(Setting.BATCH_MAX_SUBMIT_FAILURES), registry);
        long maxOpen = settings.get(Setting.BATCH_MAX_OPEN_TASKS);
        BatchPath path = new BatchPath(bootstrapServers != null, maxOpen,
                () -> collector.collecting() + book.waitingTasks());
        main.bind("batchPath", path);
        main.bind("goesBatch", (Predicate) BatchPath::goesBatch);
        main.bind("batchCollector", collector);
        main.bind("batchWork", work);
        main.bind("batchForward", new BatchForward());
        main.addOverrideProperty("caravan.batch.tick-ms", String.valueOf(settings.get(Setting.BATCH_TICK).toMillis()));
        main.addOverrideProperty("caravan.topics.batches", topic);
    }

    /** Starts following the batches topic on one thread of {@code threads}. */
    public void start(java.util.concurrent.ExecutorService threads) {
        book.start(threads);
    }

    /**
     * Closes every batch being collected now (at shutdown), so its record is written and its tasks' offsets
     * commit before the drain ends, instead of holding them until the grace period is over.
     */
    public void flush(CamelContext camel) {
        if (records == null || collector.collecting() == 0 || camel == null) {
            return;
        }
        try {
            camel.createProducerTemplate().sendBodyAndHeader("direct:batch-collect", null,
                    Exchange.AGGREGATION_COMPLETE_ALL_GROUPS, true);
        } catch (RuntimeException e) {
            LOG.warn("batches being collected could not be closed at shutdown; their tasks are read again: {}",
                    e.toString());
        }
    }

    public BatchBook book() {
        return book;
    }

    public BatchWork work() {
        return work;
    }

    public BatchCollector collector() {
        return collector;
    }

    /** The {@code /status} section. */
    public com.fasterxml.jackson.databind.node.ArrayNode status() {
        return work.status();
    }

    @Override
    public void close() throws Exception {
        book.close();
        if (records != null) {
            records.close();
        }
    }

    /** Whether a task is waiting for a batch. */
    static boolean batched(TaskContext ctx) {
        return ctx != null && TaskContext.MODE_BATCH.equals(ctx.mode());
    }
}
