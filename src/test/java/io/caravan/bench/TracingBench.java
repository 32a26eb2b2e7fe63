package io.caravan.bench;

import com.sun.net.httpserver.HttpServer;
import io.caravan.support.Caravan;
import io.caravan.support.CaravanProcess;
import io.caravan.support.TestKafka;
import java.io.File;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * What tracing costs (run on demand with {@code bench/tracing.sh}, never in CI): the same Caravan with tracing off,
 * on with every trace sampled, and on with 1 % sampled, exporting OTLP/HTTP to a sink in this JVM; and, when
 * {@code -Dbench.baseline.classes} names the compiled classes of a commit before tracing existed, that Caravan too.
 * All run at once, idle while another is measured; rounds alternate between them, so drift hits all alike.
 * Legs: a sequential client's latency on {@code POST /v1/tasks} (p50, p99) with the CPU time each Caravan spent per
 * request (from /proc, less shaken by a busy box than wall time), then requests/s with wrk.
 */
public final class TracingBench {

    record Mode(String name, Map<String, String> settings, String classes) {}

    public static void main(String[] args) throws Exception {
        String javaBin = System.getProperty("bench.java", ProcessHandle.current().info().command().orElse("java"));
        List<String> jvm = Bench.jvmOptions("bench.jvm-base", "-Xmx128m -XX:+UseSerialGC");
        Bench bench = new Bench(javaBin, jvm, jvm);
        HttpServer mock = bench.startMock();
        AtomicLong exports = new AtomicLong();
        AtomicLong exportedBytes = new AtomicLong();
        HttpServer sink = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        sink.createContext("/", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                exportedBytes.addAndGet(in.readAllBytes().length);
            }
            exports.incrementAndGet();
            exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        sink.setExecutor(Executors.newFixedThreadPool(2));
        sink.start();
        String endpoint = "http://127.0.0.1:" + sink.getAddress().getPort();
        TestKafka.bootstrapServers();

        List<Mode> modes = new ArrayList<>();
        String baseline = System.getProperty("bench.baseline.classes");
        if (baseline != null && !baseline.isBlank()) {
            modes.add(new Mode("before tracing (" + System.getProperty("bench.baseline.ref", "baseline") + ")",
                    Map.of(), baseline));
        }
        modes.add(new Mode("tracing off", Map.of(), null));
        modes.add(new Mode("tracing on, 100 % sampled", otel(endpoint, "1.0"), null));
        modes.add(new Mode("tracing on, 1 % sampled", otel(endpoint, "0.01"), null));

        bench.line("# Tracing overhead " + LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME));
        bench.line("caravan JVM: " + javaBin + " " + String.join(" ", jvm) + "; "
                + Runtime.getRuntime().availableProcessors() + " cores; load generator, broker, mock and OTLP sink"
                + " on the same box; upstream latency 0");
        Map<Mode, CaravanProcess> caravans = new LinkedHashMap<>();
        Map<Mode, Integer> ports = new LinkedHashMap<>();
        try {
            for (Mode mode : modes) {
                int port = Caravan.freePort();
                Map<String, String> settings = new HashMap<>(mode.settings());
                settings.put("caravan.http.port", String.valueOf(port));
                CaravanProcess caravan = start(bench, mode, settings, javaBin, jvm);
                caravans.put(mode, caravan);
                ports.put(mode, port);
                // one at a time: four JVMs starting at once on two cores can take longer than the wait allows
                if (!answers200Within(port, 300)) {
                    String log = caravan.output();
                    System.err.println(log.substring(Math.max(0, log.length() - 4000)));
                    throw new IllegalStateException(mode.name() + ": Caravan's HTTP port never opened");
                }
            }
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            int warmup = Integer.getInteger("bench.warmup", 5000);
            for (Mode mode : modes) {
                Bench.time(client, tasks(ports.get(mode)), warmup);
            }

            int rounds = Integer.getInteger("bench.latency.rounds", 5);
            int perRound = Integer.getInteger("bench.latency.requests", 1500);
            Map<Mode, List<Long>> times = new LinkedHashMap<>();
            // CPU ticks the Caravan process spent on its rounds: less shaken than wall time by a busy box
            Map<Mode, Long> cpuTicks = new LinkedHashMap<>();
            modes.forEach(m -> {
                times.put(m, new ArrayList<>());
                cpuTicks.put(m, 0L);
            });
            for (int round = 0; round < rounds; round++) {
                for (Mode mode : modes) {
                    Path stat = Path.of("/proc/" + caravans.get(mode).process.pid() + "/stat");
                    long before = Bench.cpuTicks(stat);
                    times.get(mode).addAll(Bench.time(client, tasks(ports.get(mode)), perRound));
                    cpuTicks.merge(mode, Bench.cpuTicks(stat) - before, Long::sum);
                }
            }
            bench.line("");
            bench.line("## Sequential client, POST /v1/tasks (" + rounds + " alternating rounds of " + perRound + ")");
            bench.line(String.format(Locale.ROOT, "%-34s %9s %11s %9s %13s %12s", "", "p50 ms", "p50 vs off",
                    "p99 ms", "CPU ms/req", "CPU vs off"));
            Mode off = modes.stream().filter(m -> m.name().equals("tracing off")).findFirst().orElseThrow();
            double offP50 = Bench.percentile(times.get(off), 50);
            double offCpu = cpuTicks.get(off) * 10.0 / (rounds * perRound);
            for (Mode mode : modes) {
                List<Long> t = times.get(mode);
                double p50 = Bench.percentile(t, 50);
                double cpu = cpuTicks.get(mode) * 10.0 / (rounds * perRound); // USER_HZ 100: a tick is 10 ms
                bench.line(String.format(Locale.ROOT, "%-34s %9.3f %+10.1f%% %9.3f %13.3f %+11.1f%%", mode.name(),
                        p50, 100 * (p50 - offP50) / offP50, Bench.percentile(t, 99), cpu, 100 * (cpu - offCpu) / offCpu));
            }

            if (Bench.hasWrk()) {
                Path script = Files.createTempFile("bench-tracing", ".lua");
                script.toFile().deleteOnExit();
                Files.writeString(script, """
                        wrk.method = "POST"
                        wrk.headers["Content-Type"] = "application/json"
                        wrk.body = '{"prompt":"Say ok","params":{"max_tokens":8}}'
                        """);
                int connections = Integer.getInteger("bench.http.connections", 16);
                int seconds = Integer.getInteger("bench.http.seconds", 8);
                int wrkRounds = Integer.getInteger("bench.http.rounds", 2);
                Map<Mode, List<Double>> rps = new LinkedHashMap<>();
                modes.forEach(m -> rps.put(m, new ArrayList<>()));
                for (int round = 0; round < wrkRounds; round++) {
                    for (Mode mode : modes) {
                        String[] r = Bench.wrk("http://127.0.0.1:" + ports.get(mode) + "/v1/tasks", script,
                                connections, seconds, null);
                        rps.get(mode).add(Double.parseDouble(r[0]));
                    }
                }
                bench.line("");
                bench.line("## Throughput, POST /v1/tasks, wrk " + connections + " connections (" + wrkRounds
                        + " alternating rounds of " + seconds + " s)");
                bench.line(String.format(Locale.ROOT, "%-34s %10s %12s  %s", "", "req/s", "vs off", "rounds"));
                double offRps = rps.get(modes.stream().filter(m -> m.name().equals("tracing off")).findFirst()
                        .orElseThrow()).stream().mapToDouble(Double::doubleValue).average().orElse(0);
                for (Mode mode : modes) {
                    double mean = rps.get(mode).stream().mapToDouble(Double::doubleValue).average().orElse(0);
                    bench.line(String.format(Locale.ROOT, "%-34s %10.0f %+11.1f%%  %s", mode.name(), mean,
                            100 * (mean - offRps) / offRps, rps.get(mode).stream().map(v -> String.format(Locale.ROOT, "%.0f", v))
                                    .collect(Collectors.joining(" "))));
                }
            } else {
                bench.line("wrk not installed: throughput skipped (apt-get install -y wrk)");
            }
            bench.line("");
            bench.line("OTLP sink: " + exports.get() + " export requests, " + exportedBytes.get() / 1024 + " KiB");
        } finally {
            caravans.values().forEach(CaravanProcess::close);
            mock.stop(0);
            sink.stop(0);
        }
        Path dir = Path.of("bench/results");
        Files.createDirectories(dir);
        Path out = dir.resolve("tracing-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))
                + ".txt");
        Files.writeString(out, bench.report.toString());
        System.out.println("written to " + out);
        System.exit(0);
    }

    static Map<String, String> otel(String endpoint, String ratio) {
        return Map.of("caravan.otel.enabled", "true",
                "otel.exporter.otlp.endpoint", endpoint,
                "otel.exporter.otlp.protocol", "http/protobuf",
                "otel.traces.sampler", "parentbased_traceidratio",
                "otel.traces.sampler.arg", ratio);
    }

    /** The mode's Caravan; a baseline runs from its own compiled classes in place of this build's. */
    static CaravanProcess start(Bench bench, Mode mode, Map<String, String> settings, String javaBin, List<String> jvm)
            throws Exception {
        if (mode.classes() == null) {
            return CaravanProcess.start(bench.catalog(0), Caravan.newPrefix(), settings, javaBin, jvm);
        }
        String own = Path.of("target/classes").toAbsolutePath().toString();
        String classpath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .map(entry -> Path.of(entry).toAbsolutePath().toString().equals(own) ? mode.classes() : entry)
                .collect(Collectors.joining(File.pathSeparator));
        // CaravanProcess takes the product's classpath from this property when it is set
        String before = System.getProperty("surefire.test.class.path");
        System.setProperty("surefire.test.class.path", classpath);
        try {
            return CaravanProcess.start(bench.catalog(0), Caravan.newPrefix(), settings, javaBin, jvm);
        } finally {
            if (before == null) {
                System.clearProperty("surefire.test.class.path");
            } else {
                System.setProperty("surefire.test.class.path", before);
            }
        }
    }

    /** Whether POST /v1/tasks answers 200 within this many seconds (a loaded box starts a JVM slowly). */
    static boolean answers200Within(int port, int seconds) throws Exception {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        HttpClient client = HttpClient.newHttpClient();
        while (System.nanoTime() < end) {
            try {
                if (client.send(tasks(port), java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return true;
                }
            } catch (java.io.IOException e) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        return false;
    }

    static HttpRequest tasks(int port) {
        return Bench.jsonPost(port, "/v1/tasks", "{\"prompt\":\"Say ok\",\"params\":{\"max_tokens\":8}}");
    }

}
