package io.caravan.batch;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.BatchSpec;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.intake.KafkaIntake;
import io.caravan.intake.TaskIntake;
import io.caravan.provider.BatchAdapter;
import io.caravan.provider.BatchHttp;
import io.caravan.provider.ChatRequest;
import io.caravan.provider.TokenUsage;
import io.caravan.resilience.KeyPool;
import io.caravan.resilience.ProviderError;
import io.caravan.task.Attempt;
import io.caravan.task.Task;
import io.caravan.task.Outcome;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskError;
import io.caravan.util.Json;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The steps of the batch routes (routes/batch.yaml) after a batch is recorded: submit it, poll it, read its result
 * rows into answers, send online the tasks whose deadline comes close or whose batch ended without them, and close
 * it once every task is settled. Only the owner of a batch ({@link BatchBook}) works on it, on the one tick thread.
 */
public final class BatchWork {

    private static final Logger LOG = LoggerFactory.getLogger(BatchWork.class);
    /** Exchange properties of the batch routes. */
    public static final String BATCH = "caravanBatch";
    public static final String STEP = "caravanBatchStep";
    public static final String ROW_ACTION = "caravanBatchRowAction";
    static final String STATUS = "caravanBatchStatus";
    static final String RESCUE_NOTE = "caravanRescueNote";
    static final String BATCH_REASON = "caravanBatchReason";

    /** A task of a batch on its way online, with the attempt its batch row made (null when none). */
    public record Online(OpenBatch batch, int index, String note, TaskContext failedRow) {}

    private final BatchBook book;
    private final BatchRecords records;
    private final Supplier<Catalog> catalog;
    private final KeyPool keys;
    private final BatchHttp http;
    private final TaskIntake intake;
    private final Duration rescueMargin;
    private final int maxSubmitFailures;
    private final MeterRegistry registry;
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();

    public BatchWork(BatchBook book, BatchRecords records, Supplier<Catalog> catalog, KeyPool keys, BatchHttp http,
            TaskIntake intake, Duration rescueMargin, int maxSubmitFailures, MeterRegistry registry) {
        this.book = book;
        this.records = records;
        this.catalog = catalog;
        this.keys = keys;
        this.http = http;
        this.intake = intake;
        this.rescueMargin = rescueMargin;
        this.maxSubmitFailures = maxSubmitFailures;
        this.registry = registry;
        if (registry != null) {
            io.micrometer.core.instrument.Gauge.builder("caravan.batch.open", book, BatchBook::size)
                    .description("open provider batches this instance owns").register(registry);
        }
    }

    /** The timer's step: the owned batches to look at now. */
    public List<OpenBatch> due() {
        return book.workable();
    }

    /** The end of the timer's turn (also when it broke). */
    public void tickDone() {
        book.tickDone();
    }

    /** Writes the batch's record (synchronously: offsets and progress depend on it). */
    public void record(Exchange exchange) {
        OpenBatch batch = exchange.getMessage().getBody(OpenBatch.class);
        if (batch != null) {
            records.write(batch);
        }
    }

    /**
     * Moves a batch on: submits a collected one, asks the provider about a submitted one when its poll is due.
     * Sets {@link #STEP}: {@code results} when it has ended (its rows are read next), {@code failed} when it cannot
     * be submitted (its tasks go online), else {@code none}.
     */
    public void advance(Exchange exchange) {
        OpenBatch b = exchange.getMessage().getBody(OpenBatch.class);
        exchange.setProperty(BATCH, b);
        exchange.setProperty(STEP, "none");
        Instant now = Instant.now();
        if (now.isBefore(b.nextPoll()) || b.allSettled()) {
            return;
        }
        DeploymentSpec d = deployment(b);
        BatchSpec.Provider spec = d == null ? null : catalog.get().batches().enabledFor(d.provider());
        ProviderSpec provider = d == null ? null : catalog.get().providerOf(d);
        if (d == null || provider == null || spec == null) {
            LOG.warn("batch {}: deployment {} can no longer batch (catalog changed): its tasks go online", b.id(),
                    b.deployment());
            exchange.setProperty(STEP, "failed");
            return;
        }
        BatchAdapter adapter = BatchAdapters.forApi(provider.api());
        if (b.state() == OpenBatch.State.COLLECTED) {
            submit(exchange, b, d, spec, provider, adapter, now);
            return;
        }
        try {
            BatchAdapter.Status status = adapter.status(http, provider, d, key(b, provider), b.providerBatchId());
            b.providerState(status.state());
            b.nextPoll(now.plus(spec.poll()));
            if (status.phase() != BatchAdapter.Phase.RUNNING) {
                LOG.info("batch {} ({} at {}) is {}{}", b.id(), b.providerBatchId(), b.provider(), status.state(),
                        status.message() == null ? "" : ": " + status.message());
                exchange.setProperty(STATUS, status);
                exchange.setProperty(STEP, "results");
            }
        } catch (ProviderError e) {
            LOG.warn("batch {}: status poll failed ({}): {}", b.id(), e.errorClass(), e.getMessage());
            b.nextPoll(now.plus(spec.poll()));
        }
    }

    private void submit(Exchange exchange, OpenBatch b, DeploymentSpec d, BatchSpec.Provider spec,
            ProviderSpec provider, BatchAdapter adapter, Instant now) {
        List<byte[]> entries = new ArrayList<>(b.tasks().size());
        for (int i = 0; i < b.tasks().size(); i++) {
            Task task = parse(b.tasks().get(i));
            entries.add(adapter.entry(customId(i), new ChatRequest(task.messages(), task.params()), provider, d));
        }
        int keyIndex = Math.floorMod(b.id().hashCode(), Math.max(1, provider.apiKeys().size()));
        String key = provider.apiKeys().isEmpty() ? null : provider.apiKeys().get(keyIndex);
        try {
            String providerId = adapter.submit(http, provider, d, key, entries, b.id(), spec.window());
            b.submittedAs(providerId, key == null ? null : KeyPool.fingerprint(key), now);
            b.nextPoll(now.plus(spec.poll()));
            count(b.provider(), "submitted", b.tasks().size());
            LOG.info("batch {}: {} tasks submitted to {} as {}", b.id(), b.tasks().size(), d.id(), providerId);
            exchange.setProperty(STEP, "submitted");
        } catch (ProviderError e) {
            b.submitFailed(e.errorClass() + ": " + e.getMessage());
            long backoff = Math.min(spec.poll().toMillis() << Math.min(b.submitFailures() - 1, 6),
                    Duration.ofMinutes(10).toMillis());
            Duration wait = e.retryAfter() != null ? e.retryAfter() : Duration.ofMillis(backoff);
            b.nextPoll(now.plus(wait));
            count(b.provider(), "submit_" + e.errorClass().wireName(), 1);
            LOG.warn("batch {}: submission to {} failed ({} of {}): {} {}", b.id(), d.id(), b.submitFailures(),
                    maxSubmitFailures, e.errorClass(), e.getMessage());
            if (!e.errorClass().retriable() || b.submitFailures() >= maxSubmitFailures) {
                exchange.setProperty(STEP, "failed");
            }
        }
    }

    /** The ended batch's result rows, streamed. */
    public Iterator<byte[]> results(Exchange exchange) {
        OpenBatch b = exchange.getProperty(BATCH, OpenBatch.class);
        BatchAdapter.Status status = exchange.getProperty(STATUS, BatchAdapter.Status.class);
        DeploymentSpec d = deployment(b);
        ProviderSpec provider = catalog.get().providerOf(d);
        return BatchAdapters.forApi(provider.api()).results(http, provider, d, key(b, provider), status);
    }

    /**
     * One result row: the answer goes out ({@link #ROW_ACTION} {@code emit}), a row error that may fall back sends
     * the task online with the failed attempt ({@code online}), a row for a task already settled (rescued) is
     * dropped and logged ({@code drop}).
     */
    public void row(Exchange exchange) {
        OpenBatch b = exchange.getProperty(BATCH, OpenBatch.class);
        byte[] line = exchange.getMessage().getBody(byte[].class);
        DeploymentSpec d = deployment(b);
        ProviderSpec provider = catalog.get().providerOf(d);
        BatchAdapter.Row row = BatchAdapters.forApi(provider.api()).row(line, d);
        int index = index(row.customId(), b);
        exchange.setProperty(ROW_ACTION, "drop");
        if (index < 0) {
            LOG.warn("batch {}: result row for an unknown request ({}) skipped: {}", b.id(), row.customId(),
                    row.error() == null ? "" : row.error().getMessage());
            count(b.provider(), "unknown_row", 1);
            return;
        }
        BatchTask task = b.tasks().get(index);
        if (!b.settle(index)) {
            LOG.info("batch {}: late answer for task {} dropped (it was answered online)", b.id(), task.id());
            count(b.provider(), "late_dropped", 1);
            return;
        }
        TaskContext ctx = context(exchange, task, TaskContext.MODE_BATCH);
        TaskContext.Candidate by = new TaskContext.Candidate(d, task.group(), null);
        long latency = Duration.between(b.submitted() == null ? b.created() : b.submitted(), Instant.now()).toMillis();
        Price price = catalog.get().batches().priceOf(d);
        if (row.reply() != null) {
            TokenUsage u = row.reply().usage();
            ctx.addAttempt(new Attempt(1, Instant.now(), task.group(), d.id(), d.provider(), d.model(), Outcome.OK,
                    200, latency, u, price.cost(u.input(), u.cachedInput(), u.output()), false, b.keyId(), null, null,
                    false));
            ctx.succeed(row.reply(), by);
            count(b.provider(), "ok", 1);
            exchange.setProperty(ROW_ACTION, "emit");
            return;
        }
        ProviderError error = row.error();
        ctx.addAttempt(new Attempt(1, Instant.now(), task.group(), d.id(), d.provider(), d.model(),
                Outcome.failed(error.errorClass()), error.status(), latency, TokenUsage.NONE, 0, false, b.keyId(),
                null, null, false));
        count(b.provider(), error.errorClass().wireName(), 1);
        if (error.errorClass().fallsBack()) {
            exchange.setProperty(BatchPath.ONLINE_ONLY, true);
            exchange.setProperty(RESCUE_NOTE, "batch " + b.id() + " request failed (" + error.errorClass() + ")");
            exchange.setProperty(BATCH_REASON, task.routingReason());
            exchange.setProperty(ROW_ACTION, "online");
        } else {
            ctx.fail(new TaskError(error.errorClass(), error.getMessage()));
            exchange.setProperty(ROW_ACTION, "emit");
        }
    }

    /**
     * The tasks of the batch to send online now: all unsettled ones when the batch ended ({@link #STEP}
     * {@code results} or {@code failed}), else those whose deadline is within the rescue margin.
     */
    public List<Online> rescues(Exchange exchange) {
        OpenBatch b = exchange.getProperty(BATCH, OpenBatch.class);
        String step = exchange.getProperty(STEP, String.class);
        boolean ended = "results".equals(step) || "failed".equals(step);
        Instant now = Instant.now();
        List<Online> out = new ArrayList<>();
        for (int i : b.open()) {
            BatchTask t = b.tasks().get(i);
            boolean close = !now.isBefore(t.deadline().minus(rescueMargin));
            if ((ended || close) && b.settle(i)) {
                String note = ended ? "batch " + b.id() + " ended (" + (b.providerState() == null ? "not submitted"
                        : b.providerState()) + ") without it" : "rescued from batch " + b.id() + " before its deadline";
                out.add(new Online(b, i, note, null));
            }
        }
        if (!out.isEmpty()) {
            count(b.provider(), ended ? "ended_unanswered" : "rescued", out.size());
            LOG.info("batch {}: {} tasks go online ({})", b.id(), out.size(), ended ? "batch ended" : "deadline near");
            exchange.setProperty("caravanBatchChanged", true);
        }
        return out;
    }

    /** Opens a batch task again as an online task (the next step is the task route). */
    public void reopen(Exchange exchange) {
        Online online = exchange.getMessage().getBody(Online.class);
        BatchTask task = online.batch().tasks().get(online.index());
        context(exchange, task, TaskContext.MODE_ONLINE);
        exchange.setProperty(BatchPath.ONLINE_ONLY, true);
        exchange.setProperty(RESCUE_NOTE, online.note());
        exchange.setProperty(BATCH_REASON, task.routingReason());
    }

    /** A row that failed and may fall back: the same task, its batch attempt kept, goes through the task route. */
    public void retryOnline(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        ctx.mode(TaskContext.MODE_ONLINE);
    }

    /** After the task route, for a task sent online from a batch: the routing reason says so. */
    public void noteRescue(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        String note = exchange.getProperty(RESCUE_NOTE, String.class);
        String before = exchange.getProperty(BATCH_REASON, String.class);
        if (ctx != null && note != null) {
            // the reason it went the batch way, then why it was answered online after all
            ctx.route(ctx.tier(), ctx.group(), (before != null ? before : ctx.routingReason()) + "; " + note
                    + " -> online");
        }
    }

    /**
     * The last step of a batch's turn: a batch whose every task is settled is closed (its provider batch cancelled
     * when it still runs, its tombstone written); one whose tasks changed is recorded again.
     */
    public void finish(Exchange exchange) {
        OpenBatch b = exchange.getProperty(BATCH, OpenBatch.class);
        String step = exchange.getProperty(STEP, String.class);
        if (b.allSettled()) {
            boolean running = b.state() == OpenBatch.State.SUBMITTED && !"results".equals(step);
            if (running) {
                cancel(b);
            }
            records.tombstone(b);
            book.closed(b);
            LOG.info("batch {} closed", b.id());
            return;
        }
        if ("submitted".equals(step) || Boolean.TRUE.equals(exchange.getProperty("caravanBatchChanged"))) {
            records.write(b);
        }
    }

    private void cancel(OpenBatch b) {
        DeploymentSpec d = deployment(b);
        ProviderSpec provider = d == null ? null : catalog.get().providerOf(d);
        if (provider == null) {
            return;
        }
        try {
            BatchAdapters.forApi(provider.api()).cancel(http, provider, d, key(b, provider), b.providerBatchId());
            LOG.info("batch {}: every task was answered online; provider batch {} cancelled", b.id(),
                    b.providerBatchId());
        } catch (ProviderError e) {
            LOG.warn("batch {}: cancel of {} failed: {}", b.id(), b.providerBatchId(), e.getMessage());
        }
    }

    /** The open batches for {@code /status}. */
    public ArrayNode status() {
        ArrayNode out = Json.array();
        Instant now = Instant.now();
        for (OpenBatch b : book.all()) {
            ObjectNode n = out.addObject();
            n.put("id", b.id());
            n.put("provider", b.provider());
            n.put("deployment", b.deployment());
            n.put("provider_batch_id", b.providerBatchId());
            n.put("state", b.state() == OpenBatch.State.COLLECTED ? "collected" : b.providerState());
            n.put("size", b.tasks().size());
            n.put("tasks_waiting", b.unsettled());
            n.put("age_s", BatchBook.age(b, now).toSeconds());
            n.put("expected_saving_usd", expectedSaving(b));
            if (b.lastError() != null) {
                n.put("last_error", b.lastError());
            }
        }
        return out;
    }

    /** About what the batch saves against online prices, from its prompts' size (4 characters a token). */
    private double expectedSaving(OpenBatch b) {
        DeploymentSpec d = deployment(b);
        if (d == null) {
            return 0;
        }
        Price batch = catalog.get().batches().priceOf(d);
        long tokens = 0;
        for (BatchTask t : b.tasks()) {
            tokens += t.bytes().length / 4;
        }
        return Math.max(0, (d.price().input() - batch.input()) * tokens / 1_000_000.0);
    }

    private TaskContext context(Exchange exchange, BatchTask task, String mode) {
        TaskContext ctx = intake.open(exchange, parse(task), TaskContext.Source.KAFKA);
        ctx.recordHeaders(task.headers());
        ctx.route(task.tier(), task.group(), task.routingReason());
        ctx.mode(mode);
        KafkaIntake.restore(exchange, new KafkaIntake.OriginalRecord(task.recordKey(), task.bytes(), task.headers()));
        return ctx;
    }

    /** The task again, without its deadline (checked when it came; it may have passed since). */
    private Task parse(BatchTask t) {
        ObjectNode root = (ObjectNode) io.caravan.provider.AdapterSupport.parseOrNull(t.bytes());
        root.remove("deadline");
        root.remove("max_delay");
        root.put("id", t.id());
        return intake.parser().fromJson(root, t.id());
    }

    private String key(OpenBatch b, ProviderSpec provider) {
        for (String k : provider.apiKeys()) {
            if (b.keyId() == null || KeyPool.fingerprint(k).equals(b.keyId())) {
                return k;
            }
        }
        return provider.apiKeys().isEmpty() ? null : provider.apiKeys().get(0);
    }

    private DeploymentSpec deployment(OpenBatch b) {
        for (DeploymentSpec d : catalog.get().deployments()) {
            if (d.id().equals(b.deployment())) {
                return d;
            }
        }
        return null;
    }

    static String customId(int index) {
        return "c" + index;
    }

    private static int index(String customId, OpenBatch b) {
        if (customId == null || !customId.startsWith("c")) {
            return -1;
        }
        try {
            int i = Integer.parseInt(customId.substring(1));
            return i >= 0 && i < b.tasks().size() ? i : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private void count(String provider, String outcome, int n) {
        if (registry == null) {
            return;
        }
        counters.computeIfAbsent(provider + "|" + outcome, k -> Counter.builder("caravan.batch.requests")
                .description("batch requests by provider and outcome").tag("provider", String.valueOf(provider))
                .tag("outcome", outcome).register(registry)).increment(n);
    }

    /** Tasks counted on {@code caravan_batch_requests_total} (for tests). */
    public double counted(String provider, String outcome) {
        Counter c = counters.get(provider + "|" + outcome);
        return c == null ? 0 : c.count();
    }
}
