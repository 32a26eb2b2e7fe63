package io.caravan.batch;

import io.caravan.catalog.BatchSpec;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.intake.KafkaInFlight;
import io.caravan.intake.KafkaIntake;
import io.caravan.task.TaskContext;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.camel.AggregationStrategy;
import org.apache.camel.Exchange;
import org.apache.camel.Predicate;
import org.apache.camel.support.DefaultExchange;

/**
 * The Aggregator's side of the batch path (routes/batch.yaml): what one waiting task brings ({@link #hold}), how tasks
 * gather per deployment ({@link #aggregate}), and when a batch is complete: {@code max_requests} tasks, about
 * {@code max_bytes} (never more than one batch record takes), or {@code collect} since its first task (checked as
 * tasks arrive; the Aggregator's own timeout closes a batch that stopped growing).
 */
public final class BatchCollector implements AggregationStrategy, Predicate {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BatchCollector.class);

    /** A task on its way into a batch, and what acknowledges its Kafka record once the batch is recorded. */
    public record Held(BatchTask task, Runnable acknowledge, java.util.function.BooleanSupplier stillOurs) {}

    /** Tasks gathered for one deployment. */
    public static final class Collecting {
        final String deployment;
        final Instant started = Instant.now();
        final List<BatchTask> tasks = new ArrayList<>();
        final List<Runnable> acknowledgements = new ArrayList<>();
        final List<java.util.function.BooleanSupplier> ours = new ArrayList<>();
        long bytes;

        Collecting(String deployment) {
            this.deployment = deployment;
        }

        public int size() {
            return tasks.size();
        }
    }

    private final KafkaInFlight inFlight;
    private final java.util.function.Supplier<Catalog> catalog;
    private final long maxRecordBytes;
    private final AtomicLong collecting = new AtomicLong();

    public BatchCollector(KafkaInFlight inFlight, java.util.function.Supplier<Catalog> catalog, long maxRecordBytes) {
        this.inFlight = inFlight;
        this.catalog = catalog;
        this.maxRecordBytes = maxRecordBytes;
    }

    /** Before the Aggregator: the task becomes what a batch keeps of it. */
    public void hold(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        KafkaIntake.OriginalRecord original = KafkaIntake.original(exchange);
        BatchTask task = new BatchTask(ctx.task().id(), ctx.task().deadline(), original.key(), original.headers(),
                original.bytes(), ctx.tier(), ctx.group(), ctx.routingReason());
        exchange.getMessage().setBody(new Held(task, inFlight.acknowledgement(exchange), inFlight.stillOurs(exchange)));
        collecting.incrementAndGet();
    }

    @Override
    public Exchange aggregate(Exchange gathered, Exchange incoming) {
        Held held = incoming.getMessage().getBody(Held.class);
        if (gathered == null) {
            // a fresh exchange: the first task's own exchange goes back to its worker
            gathered = new DefaultExchange(incoming.getContext());
            gathered.getMessage().setBody(new Collecting(incoming.getProperty(BatchPath.DEPLOYMENT, String.class)));
        }
        Collecting batch = gathered.getMessage().getBody(Collecting.class);
        if (held != null) {
            batch.tasks.add(held.task());
            batch.acknowledgements.add(held.acknowledge());
            batch.ours.add(held.stillOurs());
            batch.bytes += held.task().size();
        }
        return gathered;
    }

    /** The completion predicate: the batch is full (by count or bytes) or has collected long enough. */
    @Override
    public boolean matches(Exchange gathered) {
        Collecting batch = gathered.getMessage().getBody(Collecting.class);
        BatchSpec.Provider spec = spec(batch.deployment);
        if (spec == null) {
            return true;
        }
        long byteLimit = Math.min(spec.maxBytes(), maxRecordBytes);
        // the next task may be as large as the largest so far: stop before it could not fit
        long largest = batch.tasks.stream().mapToLong(BatchTask::size).max().orElse(0);
        return batch.size() >= spec.maxRequests() || batch.bytes + largest > byteLimit
                || !Instant.now().isBefore(batch.started.plus(spec.collect()));
    }

    /** The Aggregator's completion timeout for the task's deployment: its {@code collect}, in milliseconds. */
    public long collectMillis(Exchange exchange) {
        BatchSpec.Provider spec = spec(exchange.getProperty(BatchPath.DEPLOYMENT, String.class));
        return spec == null ? 1_000 : Math.max(1, spec.collect().toMillis());
    }

    /** After the Aggregator: the completed batch gets its id and becomes an open batch, to be recorded. */
    public void open(Exchange exchange) {
        Collecting batch = exchange.getMessage().getBody(Collecting.class);
        DeploymentSpec d = deployment(batch.deployment);
        String provider = d == null ? null : d.provider();
        // a task whose partition moved to another instance while it waited is that instance's now: it reads it again
        List<BatchTask> tasks = new ArrayList<>();
        List<Runnable> acks = new ArrayList<>();
        for (int i = 0; i < batch.tasks.size(); i++) {
            if (batch.ours.get(i).getAsBoolean()) {
                tasks.add(batch.tasks.get(i));
                acks.add(batch.acknowledgements.get(i));
            }
        }
        if (tasks.size() < batch.tasks.size()) {
            LOG.info("{} tasks left out of a batch for {}: their partition moved to another instance",
                    batch.tasks.size() - tasks.size(), batch.deployment);
        }
        OpenBatch open = tasks.isEmpty() ? null : new OpenBatch("cb-" + UUID.randomUUID(), batch.deployment,
                provider, batch.started, tasks);
        exchange.setProperty("caravanBatchAcks", acks);
        exchange.getMessage().setBody(open);
        collecting.addAndGet(-batch.size());
    }

    /** Once the batch record is on the broker: its tasks' Kafka offsets may be committed. */
    @SuppressWarnings("unchecked")
    public void recorded(Exchange exchange) {
        List<Runnable> acks = exchange.getProperty("caravanBatchAcks", List.class);
        if (acks != null) {
            acks.forEach(Runnable::run);
        }
    }

    /** Tasks gathered and not yet in a recorded batch. */
    public long collecting() {
        return collecting.get();
    }

    private BatchSpec.Provider spec(String deploymentId) {
        DeploymentSpec d = deployment(deploymentId);
        return d == null ? null : catalog.get().batches().enabledFor(d.provider());
    }

    private DeploymentSpec deployment(String id) {
        if (id == null) {
            return null;
        }
        for (DeploymentSpec d : catalog.get().deployments()) {
            if (d.id().equals(id)) {
                return d;
            }
        }
        return null;
    }
}
