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
 * All run at once, idle while another is measured; every round measures each once, in an order rotated round by
 * round, and each figure is compared with off's of the same round, so drift between rounds hits all alike and the
 * spread of those differences says how far the figure can be trusted. Legs: a sequential client on
 * {@code POST /v1/tasks} (the CPU time each Caravan spent per request, from /proc, and p50), then requests/s with wrk
 * and the CPU per request under that load.
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
            Mode off = modes.stream().filter(m -> m.name().equals("tracing off")).findFirst().orElseThrow();

            // Leg 1: a sequential client. Each round measures every Caravan once, in an order rotated round by round
            // (none always follows another); a Caravan's figure of a round is compared with off's of the same round.
            int rounds = Integer.getInteger("bench.latency.rounds", 8);
            int perRound = Integer.getInteger("bench.latency.requests", 3000);
            Map<Mode, List<Double>> p50s = perMode(modes);
            Map<Mode, List<Double>> cpus = perMode(modes);
            for (int round = 0; round < rounds; round++) {
                for (Mode mode : rotated(modes, round)) {
                    Path stat = Path.of("/proc/" + caravans.get(mode).process.pid() + "/stat");
                    long before = Bench.cpuTicks(stat);
                    List<Long> t = Bench.time(client, tasks(ports.get(mode)), perRound);
                    cpus.get(mode).add((Bench.cpuTicks(stat) - before) * 10.0 / perRound); // USER_HZ 100: 10 ms a tick
                    p50s.get(mode).add(Bench.percentile(t, 50));
                }
            }
            bench.line("");
            bench.line("## Sequential client, POST /v1/tasks (" + rounds + " rounds of " + perRound
                    + " requests per Caravan, order rotated)");
            bench.line("CPU: the Caravan process's user+system time per request; vs off: the mean of the rounds'"
                    + " differences to off's figure of the same round, ±95 % interval, [lowest, highest round]");
            bench.line(String.format(Locale.ROOT, "%-28s %12s  %-34s %10s  %s", "", "CPU ms/req", "CPU vs off",
                    "p50 ms", "p50 vs off"));
            for (Mode mode : modes) {
                bench.line(String.format(Locale.ROOT, "%-28s %12.3f  %-34s %10.3f  %s", mode.name(),
                        mean(cpus.get(mode)), mode == off ? "" : Paired.of(cpus.get(mode), cpus.get(off)),
                        mean(p50s.get(mode)), mode == off ? "" : Paired.of(p50s.get(mode), p50s.get(off))));
            }

            // Leg 2: throughput with wrk, rounds rotated the same way, and the CPU each request cost under that load
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
                int wrkRounds = Integer.getInteger("bench.http.rounds", 4);
                Map<Mode, List<Double>> rps = perMode(modes);
                Map<Mode, List<Double>> loadedCpu = perMode(modes);
                for (int round = 0; round < wrkRounds; round++) {
                    for (Mode mode : rotated(modes, round)) {
                        Path stat = Path.of("/proc/" + caravans.get(mode).process.pid() + "/stat");
                        long before = Bench.cpuTicks(stat);
                        String[] r = Bench.wrk("http://127.0.0.1:" + ports.get(mode) + "/v1/tasks", script,
                                connections, seconds, null);
                        double perSecond = Double.parseDouble(r[0]);
                        rps.get(mode).add(perSecond);
                        loadedCpu.get(mode).add((Bench.cpuTicks(stat) - before) * 10.0 / (perSecond * seconds));
                    }
                }
                bench.line("");
                bench.line("## Throughput, POST /v1/tasks, wrk " + connections + " connections (" + wrkRounds
                        + " rounds of " + seconds + " s per Caravan, order rotated)");
                bench.line(String.format(Locale.ROOT, "%-28s %8s  %-34s %12s  %s", "", "req/s", "req/s vs off",
                        "CPU ms/req", "CPU vs off"));
                for (Mode mode : modes) {
                    bench.line(String.format(Locale.ROOT, "%-28s %8.0f  %-34s %12.3f  %s", mode.name(),
                            mean(rps.get(mode)), mode == off ? "" : Paired.of(rps.get(mode), rps.get(off)),
                            mean(loadedCpu.get(mode)), mode == off ? "" : Paired.of(loadedCpu.get(mode), loadedCpu.get(off))));
                }
                bench.line("req/s by round: " + modes.stream().map(m -> m.name() + " " + rps.get(m).stream()
                        .map(v -> String.format(Locale.ROOT, "%.0f", v)).collect(Collectors.joining(" ")))
                        .collect(Collectors.joining("; ")));
            } else {
                bench.line("wrk not installed: throughput skipped (apt-get install -y wrk)");
            }
            bench.line("");
            bench.line(String.format(Locale.ROOT, "load average at the end: %s", loadAverage()));
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

    static Map<Mode, List<Double>> perMode(List<Mode> modes) {
        Map<Mode, List<Double>> map = new LinkedHashMap<>();
        modes.forEach(m -> map.put(m, new ArrayList<>()));
        return map;
    }

    /** The modes starting at the round's one: every mode is measured first, second... as often as the others. */
    static List<Mode> rotated(List<Mode> modes, int round) {
        List<Mode> order = new ArrayList<>(modes);
        java.util.Collections.rotate(order, -(round % modes.size()));
        return order;
    }

    static double mean(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "?";
        }
    }

    /**
     * A mode against off, round by round: the mean of the relative differences, its 95 % interval (Student's t, the
     * rounds being few) and the lowest and highest round. Pairing by round takes out what drifts between rounds.
     */
    record Paired(double mean, double halfWidth, double lowest, double highest) {

        /** Two-sided 95 % Student's t for 1..30 degrees of freedom; 1.96 beyond. */
        private static final double[] T95 = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                2.060, 2.056, 2.052, 2.048, 2.045, 2.042};

        static Paired of(List<Double> mode, List<Double> off) {
            int n = Math.min(mode.size(), off.size());
            double[] d = new double[n];
            for (int i = 0; i < n; i++) {
                d[i] = 100 * (mode.get(i) - off.get(i)) / off.get(i);
            }
            double mean = Arrays.stream(d).average().orElse(Double.NaN);
            double variance = n < 2 ? Double.NaN : Arrays.stream(d).map(x -> (x - mean) * (x - mean)).sum() / (n - 1);
            double t = n < 2 ? Double.NaN : n - 1 <= T95.length ? T95[n - 2] : 1.96;
            return new Paired(mean, t * Math.sqrt(variance / n), Arrays.stream(d).min().orElse(Double.NaN),
                    Arrays.stream(d).max().orElse(Double.NaN));
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%+6.1f%% ±%4.1f [%+.1f, %+.1f]", mean, halfWidth, lowest, highest);
        }
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
