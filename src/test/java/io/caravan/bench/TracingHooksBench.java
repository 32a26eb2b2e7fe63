package io.caravan.bench;

import com.sun.net.httpserver.HttpServer;
import io.caravan.Settings;
import io.caravan.catalog.Catalog;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.TokenUsage;
import io.caravan.support.TestCatalog;
import io.caravan.task.Outcome;
import io.caravan.task.Task;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskParser;
import io.caravan.tracing.TaskTracing;
import io.caravan.util.Json;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.spi.Synchronization;
import org.apache.camel.support.DefaultExchange;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * What tracing adds to one task, in nanoseconds, where {@link TracingBench}'s whole Caravans on two shared cores
 * cannot resolve a few per cent: the steps the task route calls ({@code begin}, {@code finish}, {@code carryContext})
 * and the exchange's completion, on a task answered at its first attempt, with tracing off, on at 1 % and on at
 * 100 %, the SDK exporting OTLP/HTTP to a sink in this JVM as a real one would. Everything else a task does is the
 * same in every mode, so "1 % minus off" is what 1 % sampling costs a task on the thread that runs it; {@link
 * TracingBench} divides it by the CPU a whole task takes in a Caravan. Run on demand (by {@code bench/tracing.sh}, or
 * alone with {@code bench/tracing.sh hooks}), never in CI.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TracingHooksBench {

    /** "off", or the sampled share of traces. */
    @Param({"off", "0.01", "1.0"})
    public String sampling;

    private HttpServer sink;
    private DefaultCamelContext camel;
    private TaskTracing tracing;
    private Catalog catalog;
    private Task task;
    private TaskContext.Candidate deployment;
    private ProviderReply reply;

    /** Held: a logger only configured is collected with its level. */
    private static final java.util.logging.Logger SPAN_PROCESSOR = java.util.logging.Logger.getLogger(
            "io.opentelemetry.sdk.trace.export.BatchSpanProcessor");

    @Setup(Level.Trial)
    public void start() throws Exception {
        // at 100 %, this loop makes spans far faster than any Caravan and the processor drops what its queue cannot
        // hold, saying so every export: the figure is for what the task's thread does, not the export
        SPAN_PROCESSOR.setLevel(java.util.logging.Level.OFF);
        sink = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        sink.createContext("/", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                in.readAllBytes();
            }
            exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        sink.start();
        Settings settings = Settings.load();
        if (!sampling.equals("off")) {
            settings = settings.with("caravan.otel.enabled", "true")
                    .with("otel.exporter.otlp.endpoint", "http://127.0.0.1:" + sink.getAddress().getPort())
                    .with("otel.traces.sampler", "parentbased_traceidratio")
                    .with("otel.traces.sampler.arg", sampling);
        }
        tracing = TaskTracing.from(settings, new SimpleMeterRegistry());
        camel = new DefaultCamelContext();
        camel.start();
        // the deployment is never called: its address is what a call span names
        catalog = TestCatalog.create().openAi("kimi", "http://127.0.0.1:9/v1")
                .model("balanced", "kimi", "kimi-k2", 0.6).load();
        task = new TaskParser(1 << 20).fromJson(Json.object().put("prompt", "Say ok")
                .set("params", Json.object().put("max_tokens", 8)), "bench-task");
        deployment = new TaskContext.Candidate(catalog.group("balanced").get(0), "balanced", null);
        reply = new ProviderReply(Json.object().put("role", "assistant").put("content", "ok"), "stop",
                new TokenUsage(12, 0, 2, 0), "chatcmpl-bench", "kimi-k2");
    }

    @TearDown(Level.Trial)
    public void stop() {
        tracing.close();
        camel.stop();
        sink.stop(0);
    }

    /** A task's exchange from intake to completion, with what tracing does at each step. */
    @Benchmark
    public Exchange task() {
        Exchange exchange = new DefaultExchange(camel);
        TaskContext ctx = new TaskContext(task, TaskContext.Source.HTTP, catalog, 30_000);
        exchange.setProperty(TaskContext.PROPERTY, ctx);
        tracing.begin(exchange);
        ctx.route("balanced", "balanced", "bench");
        ctx.plan(List.of(deployment));
        ctx.advance();
        ctx.record(ctx.current(), Outcome.OK, 200, 3, reply.usage());
        ctx.succeed(reply, ctx.current());
        tracing.finish(exchange);
        tracing.carryContext(exchange);
        List<Synchronization> completions = exchange.getExchangeExtension().handoverCompletions();
        if (completions != null) {
            for (Synchronization completion : completions) {
                completion.onComplete(exchange);
            }
        }
        return exchange;
    }

    /** One sampling's figures: nanoseconds per task with JMH's 99.9 % error, and bytes allocated per task. */
    record Figure(double nanos, double error, double bytes) {}

    /**
     * Runs the benchmark in {@code forks} fresh JVMs ({@code java} with {@code jvmOptions}, as the Caravans run),
     * JMH's own output silenced: the figures by sampling ("off", "0.01", "1.0").
     */
    static Map<String, Figure> measure(String java, List<String> jvmOptions, int forks) throws Exception {
        int seconds = Integer.getInteger("bench.hooks.seconds", 1);
        int iterations = Integer.getInteger("bench.hooks.iterations", 8);
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .include(TracingHooksBench.class.getName() + ".task")
                .jvm(java).jvmArgs(jvmOptions.toArray(String[]::new))
                .forks(forks)
                .warmupIterations(iterations).warmupTime(TimeValue.seconds(seconds))
                .measurementIterations(iterations).measurementTime(TimeValue.seconds(seconds))
                .addProfiler(GCProfiler.class)
                .verbosity(VerboseMode.SILENT)
                .build()).run();
        Map<String, Figure> figures = new LinkedHashMap<>();
        for (RunResult run : results) {
            Result<?> time = run.getPrimaryResult();
            Result<?> bytes = run.getSecondaryResults().get("gc.alloc.rate.norm");
            figures.put(run.getParams().getParam("sampling"),
                    new Figure(time.getScore(), time.getScoreError(), bytes == null ? Double.NaN : bytes.getScore()));
        }
        return figures;
    }

    /** Alone: {@code bench/tracing.sh hooks}. */
    public static void main(String[] args) throws Exception {
        String java = System.getProperty("bench.java", ProcessHandle.current().info().command().orElse("java"));
        List<String> jvm = Bench.jvmOptions("bench.jvm-base", "-Xmx128m -XX:+UseSerialGC");
        int forks = Integer.getInteger("bench.hooks.forks", 3);
        System.out.println("JVM: " + java + " " + String.join(" ", jvm) + "; " + forks + " forks");
        measure(java, jvm, forks).forEach((sampling, f) -> System.out.println(String.format(Locale.ROOT,
                "sampling %-4s %8.0f ns/task ± %5.0f (99.9 %%)  %6.0f bytes/task", sampling, f.nanos(), f.error(),
                f.bytes())));
    }
}
