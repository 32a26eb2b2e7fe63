package io.caravan.cli;

import io.caravan.Setting;
import io.caravan.intake.ChatCompletionsIntake;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.CaravanApp;
import io.caravan.Settings;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogException;
import io.caravan.catalog.CatalogLoader;
import io.caravan.intake.TaskIntake;
import io.caravan.outlet.OpenAiWire;
import io.caravan.resilience.ErrorClass;
import io.caravan.task.InvalidTaskException;
import io.caravan.task.Task;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.DoubleAdder;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.support.DefaultExchange;

/**
 * {@code caravan batch IN.jsonl -o OUT.jsonl [--concurrency N]}: an OpenAI Batch input file through Caravan's task
 * route ({@code direct:task}), one output line per input line in OpenAI's Batch output shape, appended as each
 * finishes. Resumable: custom_ids already in OUT (and malformed lines already reported there) are skipped.
 *
 * <p>The run starts Caravan without its intakes (no HTTP server, no Kafka consumer). Kafka is used only when
 * {@code kafka.bootstrap-servers} is set: then each attempt's usage event goes to the usage topic as for any
 * task; otherwise no broker is started and usage is only summed up here.
 */
public final class BatchCommand {

    private static final String URL = "/v1/chat/completions";

    private final Settings settings;
    private final PrintStream err;
    private final boolean terminal;

    private final AtomicInteger ok = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final DoubleAdder cost = new DoubleAdder();

    public BatchCommand(Settings settings, PrintStream err, boolean terminal) {
        this.settings = settings;
        this.err = err;
        this.terminal = terminal;
    }

    /** The command line after {@code batch}; returns the exit status. */
    public static int run(Settings settings, List<String> args, PrintStream out, PrintStream err) throws Exception {
        List<String> rest = new ArrayList<>(args);
        String output = null;
        String concurrency = null;
        String deadline = null;
        String maxDelay = null;
        boolean missingValue = false;
        try {
            output = Options.take(rest, "-o", "--output");
            concurrency = Options.take(rest, "--concurrency");
            deadline = Options.take(rest, "--deadline");
            maxDelay = Options.take(rest, "--max-delay");
        } catch (IllegalArgumentException e) {
            missingValue = true;
        }
        if (missingValue || rest.size() != 1 || output == null || (deadline != null && maxDelay != null)) {
            err.println("usage: caravan batch IN.jsonl -o OUT.jsonl [--concurrency N] [--catalog FILE]"
                    + " [--deadline INSTANT | --max-delay DURATION]");
            return 2;
        }
        if (deadline != null || maxDelay != null) {
            // the provider batch path: the tasks go to a running Caravan, durable and at the batch price
            Path file = Path.of(rest.get(0));
            if (!Files.isRegularFile(file)) {
                err.println("caravan batch: no such input file: " + file);
                return 2;
            }
            return BatchDeadlineRun.run(settings, file, Path.of(output), deadline, maxDelay, out, err);
        }
        int n;
        try {
            n = concurrency == null ? 16 : Integer.parseInt(concurrency);
        } catch (NumberFormatException e) {
            n = 0;
        }
        if (n < 1) {
            err.println("caravan batch: --concurrency must be a positive number, not '" + concurrency + "'");
            return 2;
        }
        Path in = Path.of(rest.get(0));
        if (!Files.isRegularFile(in)) {
            err.println("caravan batch: no such input file: " + in);
            return 2;
        }
        Catalog catalog;
        Path catalogFile = Path.of(settings.get(Setting.CATALOG));
        if (!Files.isRegularFile(catalogFile)) {
            err.println(io.caravan.CaravanMain.noCatalog("batch", catalogFile));
            return 2;
        }
        try {
            catalog = CatalogLoader.load(catalogFile);
        } catch (CatalogException e) {
            err.println(e.getMessage());
            return 2;
        }
        BatchCommand batch = new BatchCommand(settings, err, System.console() != null);
        Summary summary = batch.process(catalog, in, Path.of(output), n);
        out.printf(Locale.ROOT, "batch: %d ok, %d failed, %d skipped (already in %s), cost $%.6f%n",
                summary.ok(), summary.failed(), summary.skipped(), output, summary.costUsd());
        return 0;
    }

    public record Summary(int ok, int failed, int skipped, double costUsd) {}

    /** Runs the file through a Caravan started for the purpose, and stops it at the end. */
    public Summary process(Catalog catalog, Path in, Path out, int concurrency) throws Exception {
        CaravanApp app = new CaravanApp(batchSettings(settings), catalog, settings.get(Setting.KAFKA_BOOTSTRAP_SERVERS))
                .start();
        try {
            return process(app, in, out, concurrency);
        } finally {
            app.close();
        }
    }

    /**
     * Only the task pipeline: no intake and no HTTP endpoint starts, and without {@code kafka.bootstrap-servers}
     * no route that publishes to Kafka either, so nothing tries to reach a broker.
     */
    static Settings batchSettings(Settings settings) {
        Settings batch = settings
                .with("camel.server.enabled", "false")
                .with("camel.main.auto-startup-exclude-pattern", "intake-*,ops-*,admin-*,kafka-task-worker");
        if (settings.get(Setting.KAFKA_BOOTSTRAP_SERVERS) != null) {
            return batch;
        }
        // not even loaded: Camel starts the producers of a route that does not start, and each would keep
        // trying to reach a broker
        // the route files are named one by one (application.properties): an exclude pattern does not apply to those
        String routes = java.util.Arrays.stream(settings.get("camel.main.routes-include-pattern").split(","))
                .map(String::trim)
                .filter(file -> !file.endsWith("/outlets.yaml") && !file.endsWith("/intake-kafka.yaml")
                        && !file.endsWith("/batch.yaml"))
                .collect(java.util.stream.Collectors.joining(","));
        return batch.with("camel.main.routes-include-pattern", routes);
    }

    Summary process(CaravanApp app, Path in, Path out, int concurrency) throws Exception {
        Set<String> done = alreadyDone(out);
        List<String> lines = Files.readAllLines(in, StandardCharsets.UTF_8);
        TaskIntake intake = app.camelContext().getRegistry().lookupByNameAndType("taskIntake", TaskIntake.class);
        ProducerTemplate template = app.camelContext().createProducerTemplate();
        int skipped = 0;
        List<Runnable> work = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        try (BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            Object lock = new Object();
            if (Files.size(out) > 0 && !endsWithNewline(out)) {
                writer.newLine(); // the last line was cut short by an interruption
            }
            for (int i = 0; i < lines.size(); i++) {
                int lineNo = i + 1;
                String line = lines.get(i);
                if (line.isBlank()) {
                    continue;
                }
                JsonNode request;
                String customId = null;
                String problem = null;
                try {
                    request = Json.MAPPER.readTree(line);
                    if (request == null || !request.isObject()) {
                        throw new IOException("not a JSON object");
                    }
                    customId = request.path("custom_id").isTextual() ? request.get("custom_id").asText() : null;
                    if (customId == null || customId.isEmpty()) {
                        problem = "custom_id is missing";
                    } else if (!seen.add(customId)) {
                        problem = "custom_id " + customId + " appears more than once";
                        customId = null;
                    } else if (!URL.equals(request.path("url").asText())) {
                        problem = "url must be " + URL + ", not '" + request.path("url").asText() + "'";
                    } else if (!"POST".equalsIgnoreCase(request.path("method").asText("POST"))) {
                        problem = "method must be POST";
                    } else if (!request.path("body").isObject()) {
                        problem = "body must be a JSON object";
                    }
                } catch (IOException e) {
                    request = null;
                    problem = "not JSON: " + e.getMessage().lines().findFirst().orElse("");
                }
                String key = customId != null ? customId : "line:" + lineNo;
                if (done.contains(key)) {
                    skipped++;
                    continue;
                }
                if (problem != null) {
                    err.println("caravan batch: " + in.getFileName() + " line " + lineNo + ": " + problem);
                    failed.incrementAndGet();
                    write(writer, lock, errorLine(customId, lineNo, problem));
                    continue;
                }
                String id = customId;
                ObjectNode body = (ObjectNode) request.get("body");
                work.add(() -> {
                    ObjectNode result = runOne(template, intake, id, lineNo, body);
                    try {
                        write(writer, lock, result);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
            }
            runAll(work, concurrency);
        }
        return new Summary(ok.get(), failed.get(), skipped, cost.sum());
    }

    private void runAll(List<Runnable> work, int concurrency) throws InterruptedException {
        int total = work.size();
        AtomicInteger finished = new AtomicInteger();
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(concurrency, Math.max(1, total)));
        Semaphore slots = new Semaphore(concurrency);
        Thread progress = new Thread(() -> {
            long last = 0;
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    Thread.sleep(terminal ? 200 : 1000);
                } catch (InterruptedException e) {
                    return;
                }
                long now = System.nanoTime();
                if (terminal || now - last >= TimeUnit.SECONDS.toNanos(5)) {
                    last = now;
                    progress(finished.get(), total, start, false);
                }
            }
        }, "caravan-batch-progress");
        progress.setDaemon(true);
        progress.start();
        try {
            for (Runnable job : work) {
                slots.acquire();
                pool.execute(() -> {
                    try {
                        job.run();
                    } finally {
                        finished.incrementAndGet();
                        slots.release();
                    }
                });
            }
            pool.shutdown();
            pool.awaitTermination(365, TimeUnit.DAYS);
        } finally {
            progress.interrupt();
            progress.join(1000);
            pool.shutdownNow();
        }
        progress(finished.get(), total, start, true);
    }

    /** One progress report: a redrawn bar on a terminal, a plain line otherwise. */
    void progress(int done, int total, long startNanos, boolean last) {
        double seconds = Math.max(1e-3, (System.nanoTime() - startNanos) / 1e9);
        double rate = done / seconds;
        long eta = rate > 0 ? Math.round((total - done) / rate) : -1;
        String numbers = String.format(Locale.ROOT, "%d/%d  %.1f/s  ETA %s  failed %d", done, total, rate,
                eta < 0 ? "?" : eta + "s", failed.get());
        if (terminal) {
            int width = 30;
            int filled = total == 0 ? width : (int) ((long) width * done / total);
            err.print("\r[" + "#".repeat(filled) + " ".repeat(width - filled) + "] " + numbers + "   ");
            if (last) {
                err.println();
            }
        } else {
            err.println("batch: " + numbers);
        }
        err.flush();
    }

    private ObjectNode runOne(ProducerTemplate template, TaskIntake intake, String customId, int lineNo,
            ObjectNode body) {
        Exchange exchange = new DefaultExchange(template.getCamelContext());
        TaskContext ctx;
        try {
            Task task = intake.parser().fromJson(ChatCompletionsIntake.toTask(body), validId(customId) ? customId : null);
            ctx = intake.open(exchange, task, TaskContext.Source.BATCH);
        } catch (InvalidTaskException e) {
            failed.incrementAndGet();
            return responseLine(customId, UUID.randomUUID().toString(), 400,
                    OpenAiWire.error(ErrorClass.INVALID_TASK, e.getMessage()));
        }
        template.send("direct:task", exchange);
        cost.add(ctx.totalCost());
        if (ctx.error() == null && ctx.reply() != null) {
            ok.incrementAndGet();
            return responseLine(customId, ctx.task().id(), 200, batchCompletion(ctx));
        }
        failed.incrementAndGet();
        if (exchange.getException() != null && ctx.error() == null) {
            return responseLine(customId, ctx.task().id(), 500,
                    OpenAiWire.errorBody(exchange.getException().getMessage(), "server_error", "internal"));
        }
        var error = ctx.error();
        // the same status and body the HTTP front door answers for this failure
        return responseLine(customId, ctx.task().id(), OpenAiWire.status(ctx, error.type()),
                OpenAiWire.error(error.type(), error.message()));
    }

    /** The same {@code chat.completion} as the HTTP API, with the cost and tier its headers would carry. */
    static ObjectNode batchCompletion(TaskContext ctx) {
        ObjectNode body = ChatCompletionsIntake.completion(ctx);
        body.put("x_caravan_cost_usd", ctx.totalCost());
        body.put("x_caravan_tier", ctx.tier());
        return body;
    }

    static ObjectNode responseLine(String customId, String requestId, int status, ObjectNode body) {
        ObjectNode line = Json.object();
        line.put("id", "batch_req_" + UUID.randomUUID().toString().replace("-", ""));
        line.put("custom_id", customId);
        ObjectNode response = line.putObject("response");
        response.put("status_code", status);
        response.put("request_id", requestId);
        response.set("body", body);
        line.putNull("error");
        return line;
    }

    static ObjectNode errorLine(String customId, int lineNo, String message) {
        ObjectNode line = Json.object();
        line.put("id", "batch_req_" + UUID.randomUUID().toString().replace("-", ""));
        line.put("custom_id", customId);
        line.putNull("response");
        ObjectNode error = line.putObject("error");
        error.put("code", "invalid_request");
        error.put("message", "line " + lineNo + ": " + message);
        error.put("line", lineNo);
        return line;
    }

    /** custom_ids (and line numbers of malformed lines, as {@code line:N}) already written to OUT. */
    static Set<String> alreadyDone(Path out) throws IOException {
        Set<String> done = new HashSet<>();
        if (!Files.isRegularFile(out)) {
            return done;
        }
        for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
            try {
                JsonNode node = Json.MAPPER.readTree(line);
                if (node == null) {
                    continue;
                }
                if (node.path("custom_id").isTextual()) {
                    done.add(node.get("custom_id").asText());
                } else if (node.path("error").path("line").canConvertToInt()) {
                    done.add("line:" + node.path("error").path("line").asInt());
                }
            } catch (IOException e) {
                // a line cut short by an interruption: that request runs again
            }
        }
        return done;
    }

    private static boolean endsWithNewline(Path file) throws IOException {
        try (var channel = java.nio.channels.FileChannel.open(file, StandardOpenOption.READ)) {
            java.nio.ByteBuffer last = java.nio.ByteBuffer.allocate(1);
            channel.read(last, channel.size() - 1);
            return last.get(0) == '\n';
        }
    }

    private static boolean validId(String id) {
        return id != null && id.length() <= 128 && id.matches("[A-Za-z0-9._:-]+");
    }

    private static void write(BufferedWriter writer, Object lock, ObjectNode line) throws IOException {
        String text = Json.MAPPER.writeValueAsString(line);
        synchronized (lock) {
            writer.write(text);
            writer.newLine();
            writer.flush();
        }
    }
}
