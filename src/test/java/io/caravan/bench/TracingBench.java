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
 * All run at once, idle while another is measured. Each is warmed up first (the JIT compiling while a figure is taken
 * would swamp a 3 % difference), then every leg runs many short rounds, each measuring every Caravan once in an order
 * rotated round by round, after one dropped round. A figure is compared with off's of the same round, so drift between
 * rounds hits all alike, and the spread of those paired differences gives the 95 % interval. The primary figure is the
 * CPU time the Caravan process spent per request under a sequential client (from /proc): it does not depend on how
 * fast the box is. Then requests/s with wrk and the CPU per request under that load.
 */
public final class TracingBench {

    record Mode(String name, Map<String, String> settings, String classes) {}

    /** One measurement of one Caravan in one round: its figures, in a fixed order. */
    interface Measure {
        double[] of(Mode mode) throws Exception;
    }

    static final String TASK = "{\"prompt\":\"Say ok\",\"params\":{\"max_tokens\":8}}";
    static final String CONTROL = "tracing off, a second JVM";
    static final String WRK_SCRIPT = """
            wrk.method = "POST"
            wrk.headers["Content-Type"] = "application/json"
            wrk.body = '{"prompt":"Say ok","params":{"max_tokens":8}}'
            """;

    public static void main(String[] args) throws Exception {
        String javaBin = System.getProperty("bench.java", ProcessHandle.current().info().command().orElse("java"));
        List<String> jvm = Bench.jvmOptions("bench.jvm-base", "-Xmx128m -XX:+UseSerialGC");
        Bench bench = new Bench(javaBin, jvm, jvm);
        HttpServer mock = bench.startMock();
        AtomicLong exports = EXPORTS;
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
        // the control: a second Caravan just like off. What it differs from off by is what two JVMs of one build differ
        // by, so a mode's difference to off means something only when it is larger than the control's
        if (Boolean.parseBoolean(System.getProperty("bench.control", "true"))) {
            modes.add(new Mode(CONTROL, Map.of(), null));
        }
        // 100 % exports every 200 ms so that its round's spans are out before the next Caravan's round begins (at
        // 100 % a batch of 512 fills that fast anyway); 1 % exports as shipped: an export every 200 ms of a handful of
        // spans cost it a point of CPU (OkHttp's call and the processor's wake-ups) that a real Caravan never pays
        modes.add(new Mode("tracing on, 100 % sampled", otel(endpoint, "1.0", 200), null));
        modes.add(new Mode("tracing on, 1 % sampled", otel(endpoint, "0.01", null), null));

        String loadAtStart = loadAverage();
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
                if (!Bench.answers200(port, "/v1/tasks", TASK, 300)) {
                    String log = caravan.output();
                    System.err.println(log.substring(Math.max(0, log.length() - 4000)));
                    throw new IllegalStateException(mode.name() + ": Caravan's HTTP port never opened");
                }
            }
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            // warm-up: the JIT needs many thousand calls on two cores before a figure settles; then every leg's first
            // round is run and dropped as well
            int warmup = Integer.getInteger("bench.warmup", 20000);
            for (Mode mode : modes) {
                Bench.time(client, tasks(ports.get(mode)), warmup);
            }
            Mode off = modes.stream().filter(m -> m.name().equals("tracing off")).findFirst().orElseThrow();

            // Leg 1: a sequential client, many short rounds. Each round measures every Caravan once, in an order
            // rotated round by round (none always follows another); a Caravan's figure of a round is compared with
            // off's of the same round, so what drifts between rounds (the box, the broker, the other JVMs) drops out.
            int rounds = Integer.getInteger("bench.latency.rounds", 24);
            int perRound = Integer.getInteger("bench.latency.requests", 1500);
            Map<Mode, List<double[]>> sequential = rounds(modes, rounds, mode -> {
                long pid = caravans.get(mode).process.pid();
                Path stat = Path.of("/proc/" + pid + "/stat");
                long before = Bench.cpuTicks(stat);
                long jitBefore = Bench.jitTicks(pid);
                List<Long> t = Bench.time(client, tasks(ports.get(mode)), perRound);
                long ticks = Bench.cpuTicks(stat) - before;
                // USER_HZ 100: 10 ms a tick
                return new double[] {ticks * 10.0 / perRound, Bench.percentile(t, 50),
                        (ticks - (Bench.jitTicks(pid) - jitBefore)) * 10.0 / perRound};
            });
            bench.line("");
            bench.line("## Sequential client, POST /v1/tasks (" + rounds + " rounds of " + perRound
                    + " requests per Caravan, order rotated, after a dropped warm-up round)");
            bench.line("CPU: the Caravan process's user+system time per request; vs off: the mean of the rounds'"
                    + " differences to off's figure of the same round, ±95 % interval, [lowest, highest round]");
            bench.line(String.format(Locale.ROOT, "%-28s %12s  %-34s %10s  %-34s %s", "", "CPU ms/req", "CPU vs off",
                    "p50 ms", "p50 vs off", "CPU without the JIT vs off"));
            for (Mode mode : modes) {
                bench.line(String.format(Locale.ROOT, "%-28s %12.3f  %-34s %10.3f  %-34s %s", mode.name(),
                        mean(column(sequential, mode, 0)),
                        mode == off ? "" : Paired.of(column(sequential, mode, 0), column(sequential, off, 0)),
                        mean(column(sequential, mode, 1)),
                        mode == off ? "" : Paired.of(column(sequential, mode, 1), column(sequential, off, 1)),
                        mode == off ? "" : Paired.of(column(sequential, mode, 2), column(sequential, off, 2))));
            }
            bench.line("(CPU without the JIT: the same less the JIT compiler threads' time, which a late recompilation"
                    + " adds to one round or another)");

            // Leg 2: throughput with wrk, rounds rotated the same way, and the CPU each request cost under that load
            Map<Mode, List<double[]>> loadedCpu = null;
            if (Bench.hasWrk()) {
                Path script = Files.createTempFile("bench-tracing", ".lua");
                script.toFile().deleteOnExit();
                Files.writeString(script, WRK_SCRIPT);
                int connections = Integer.getInteger("bench.http.connections", 16);
                int seconds = Integer.getInteger("bench.http.seconds", 5);
                int wrkRounds = Integer.getInteger("bench.http.rounds", 6);
                Map<Mode, List<double[]>> loaded = rounds(modes, wrkRounds, mode -> {
                    Path stat = Path.of("/proc/" + caravans.get(mode).process.pid() + "/stat");
                    long before = Bench.cpuTicks(stat);
                    String[] r = Bench.wrk("http://127.0.0.1:" + ports.get(mode) + "/v1/tasks", script,
                            connections, seconds, null);
                    double perSecond = Double.parseDouble(r[0]);
                    return new double[] {perSecond, (Bench.cpuTicks(stat) - before) * 10.0 / (perSecond * seconds)};
                });
                bench.line("");
                bench.line("## Throughput, POST /v1/tasks, wrk " + connections + " connections (" + wrkRounds
                        + " rounds of " + seconds + " s per Caravan, order rotated, after a dropped warm-up round)");
                bench.line(String.format(Locale.ROOT, "%-28s %8s  %-34s %12s  %s", "", "req/s", "req/s vs off",
                        "CPU ms/req", "CPU vs off"));
                for (Mode mode : modes) {
                    bench.line(String.format(Locale.ROOT, "%-28s %8.0f  %-34s %12.3f  %s", mode.name(),
                            mean(column(loaded, mode, 0)),
                            mode == off ? "" : Paired.of(column(loaded, mode, 0), column(loaded, off, 0)),
                            mean(column(loaded, mode, 1)),
                            mode == off ? "" : Paired.of(column(loaded, mode, 1), column(loaded, off, 1))));
                }
                loadedCpu = loaded;
                bench.line("req/s by round: " + modes.stream().map(m -> m.name() + " " + column(loaded, m, 0).stream()
                        .map(v -> String.format(Locale.ROOT, "%.0f", v)).collect(Collectors.joining(" ")))
                        .collect(Collectors.joining("; ")));
            } else {
                bench.line("wrk not installed: throughput skipped (apt-get install -y wrk)");
            }

            // Leg 3: where each Caravan's CPU goes under the same load, from JFR's stack samples (TracingProfile):
            // tracing's share of them, in place, which no wall-clock figure on a shared box pins down as tightly
            Map<Mode, TracingProfile> profiles = new LinkedHashMap<>();
            int profileRounds = Integer.getInteger("bench.profile.rounds", 2);
            int profileSeconds = Integer.getInteger("bench.profile.seconds", 30);
            if (Bench.hasWrk() && profileRounds > 0) {
                Path script = Files.createTempFile("bench-tracing", ".lua");
                script.toFile().deleteOnExit();
                Files.writeString(script, WRK_SCRIPT);
                int connections = Integer.getInteger("bench.http.connections", 16);
                for (int round = 0; round < profileRounds; round++) {
                    for (Mode mode : rotated(modes, round)) {
                        TracingProfile profile = TracingProfile.during(javaBin, caravans.get(mode).process.pid(),
                                () -> profileSeconds * Double.parseDouble(Bench.wrk("http://127.0.0.1:"
                                        + ports.get(mode) + "/v1/tasks", script, connections, profileSeconds, null)[0]));
                        awaitExportsSettled();
                        profiles.merge(mode, profile, TracingProfile::plus);
                    }
                }
                bench.line("");
                bench.line("## Where the CPU goes, wrk " + connections + " connections (JFR stack samples every 1 ms, "
                        + profileRounds + " rounds of " + profileSeconds + " s per Caravan): tracing's = the stack holds"
                        + " Caravan's tracing code or OpenTelemetry's, or the thread is its exporter's");
                bench.line("tracing's share of the CPU = of the samples (threads running Java code) x the user time's share"
                        + " of the CPU (the kernel's runs none): at most that");
                bench.line(String.format(Locale.ROOT, "%-28s %8s  %9s  %10s  %10s  %-24s %10s  %s", "", "samples",
                        "tracing's", "user time", "of the CPU", "vs off, 95 %", "bytes/req", "collector's share"));
                for (Mode mode : modes) {
                    TracingProfile p = profiles.get(mode);
                    bench.line(String.format(Locale.ROOT, "%-28s %8d  %8.2f%%  %9.1f%%  %9.2f%%  %-24s %10.0f  %.1f%%",
                            mode.name(), p.samples(), 100.0 * p.tracing() / p.samples(), 100 * p.userShare(),
                            100 * p.share(), mode == off ? "" : p.against(profiles.get(off)), p.allocatedBytes(),
                            100 * p.gcShare()));
                }
                for (Mode mode : modes) {
                    bench.line("  where " + mode.name() + "'s tracing samples entered tracing's code: "
                            + profiles.get(mode).topEntries(8));
                }
            }

            // Leg 4: the tracing steps of one task in process (JMH), where nanoseconds resolve what whole Caravans
            // on two shared cores cannot: what an unsampled task pays, and 1 % of what a sampled one does
            int forks = Integer.getInteger("bench.hooks.forks", 3);
            Map<String, TracingHooksBench.Figure> hooks = TracingHooksBench.measure(javaBin, jvm, forks);
            bench.line("");
            bench.line("## One task's tracing steps in process (JMH TracingHooksBench: begin, finish, carryContext and"
                    + " completion on a task answered at its first attempt; " + forks + " forks, same JVM flags)");
            bench.line(String.format(Locale.ROOT, "%-28s %10s  %12s  %12s", "", "ns/task", "±99.9 %", "bytes/task"));
            String[][] samplings = {{"off", "tracing off"}, {"1.0", "tracing on, 100 % sampled"},
                    {"0.01", "tracing on, 1 % sampled"}};
            for (String[] sampling : samplings) {
                TracingHooksBench.Figure f = hooks.get(sampling[0]);
                bench.line(String.format(Locale.ROOT, "%-28s %10.0f  %12.0f  %12.0f", sampling[1], f.nanos(), f.error(),
                        f.bytes()));
            }

            // the verdict. In place (leg 3), 1 % minus off is tracing's extra share of the Caravan's CPU samples, its
            // exporter's threads included; the collector's threads are not sampled, so tracing's share of them is
            // taken as its extra bytes per task (leg 4) over the bytes a task allocates, times the collector's share.
            // Without wrk, in process only: 1 % minus off (the task's own thread) plus a hundredth of 100 %'s
            // end-to-end cost for the sampled spans' export. Either is taken at its upper bound and against the
            // smaller of the two per-request CPU figures (so the larger share).
            TracingHooksBench.Figure hooksOff = hooks.get("off");
            TracingHooksBench.Figure hooksOne = hooks.get("0.01");
            double addedNanos = hooksOne.nanos() - hooksOff.nanos();
            double addedUpper = addedNanos + Math.hypot(hooksOne.error(), hooksOff.error());
            Mode one = modes.stream().filter(m -> m.name().contains("1 %")).findFirst().orElseThrow();
            Mode control = modes.stream().filter(m -> m.name().equals(CONTROL)).findFirst().orElse(null);
            Mode full = modes.stream().filter(m -> m.name().contains("100 %")).findFirst().orElseThrow();
            Paired fullCpu = Paired.of(column(sequential, full, 0), column(sequential, off, 0));
            double taskNanos = 1e6 * Math.min(mean(column(sequential, off, 0)),
                    loadedCpu == null ? Double.MAX_VALUE : mean(column(loadedCpu, off, 1)));
            double exportsShare = Math.max(0, fullCpu.mean() + fullCpu.halfWidth()) / 100;
            bench.line("");
            bench.line(String.format(Locale.ROOT, "in process: 1 %% sampling adds %+.0f ns (upper %+.0f) and %+.0f bytes"
                    + " to a task's tracing steps, against %.0f µs of CPU a task takes: %+.2f %% (upper %+.2f %%); with"
                    + " a hundredth of 100 %%'s end-to-end cost for its exports (%.2f %%): at most %+.2f %%", addedNanos,
                    addedUpper, hooksOne.bytes() - hooksOff.bytes(), taskNanos / 1000, 100 * addedNanos / taskNanos,
                    100 * addedUpper / taskNanos, exportsShare, 100 * addedUpper / taskNanos + exportsShare));
            double upper = 100 * addedUpper / taskNanos + exportsShare;
            if (!profiles.isEmpty()) {
                TracingProfile onePercent = profiles.get(one);
                TracingProfile offProfile = profiles.get(off);
                double collector = 100 * offProfile.gcShare() * Math.max(0, hooksOne.bytes() - hooksOff.bytes())
                        / offProfile.allocatedBytes();
                upper = onePercent.upperAgainst(offProfile) + collector;
                bench.line(String.format(Locale.ROOT, "in place: 1 %% sampling's share of the CPU over off's %s;"
                        + " the collector's part (%.0f of %.0f bytes a task, of a %.1f %% share): %.2f %%; at most"
                        + " %+.2f %%", onePercent.against(offProfile), hooksOne.bytes() - hooksOff.bytes(),
                        offProfile.allocatedBytes(), 100 * offProfile.gcShare(), collector, upper));
                if (profiles.containsKey(control)) {
                    bench.line("in place, the control (two JVMs of one build): " + profiles.get(control).against(offProfile)
                            + " (what the 1 % figure's difference is to be read against)");
                }
            }
            for (Mode mode : modes) {
                if (mode == one || mode.name().equals(CONTROL)) {
                    Paired cpu = Paired.of(column(sequential, mode, 0), column(sequential, off, 0));
                    bench.line(String.format(Locale.ROOT, "end to end, sequential CPU per request: %s %+.1f %% (95 %%:"
                            + " %+.1f to %+.1f %%)", mode.name(), cpu.mean(), cpu.mean() - cpu.halfWidth(),
                            cpu.mean() + cpu.halfWidth()));
                }
            }
            bench.line(String.format(Locale.ROOT, "verdict: tracing on, 1 %% sampled costs at most %+.2f %% of a task's"
                    + " CPU (%s): %s", upper, profiles.isEmpty() ? "in process" : "in place",
                    upper < 3 ? "under 3 %, shown" : "not shown to be under 3 %"));
            bench.line(String.format(Locale.ROOT, "load average at the start: %s", loadAtStart));
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

    /**
     * {@code rounds} rounds of every mode measured once, in an order rotated round by round, after one more round
     * that is dropped (the first measurement after another kind of load still warms code and heap up).
     */
    static Map<Mode, List<double[]>> rounds(List<Mode> modes, int rounds, Measure measure) throws Exception {
        Map<Mode, List<double[]>> figures = new LinkedHashMap<>();
        modes.forEach(m -> figures.put(m, new ArrayList<>()));
        for (int round = -1; round < rounds; round++) {
            for (Mode mode : rotated(modes, Math.max(0, round))) {
                double[] figure = measure.of(mode);
                // the spans a Caravan queued in its round are exported after it: into the next Caravan's round
                // unless waited for (the 100 % Caravan's export of 1,500 spans fell into 1 %'s rounds)
                awaitExportsSettled();
                if (round >= 0) {
                    figures.get(mode).add(figure);
                }
            }
        }
        return figures;
    }

    static final AtomicLong EXPORTS = new AtomicLong();

    /**
     * Until the OTLP sink has had no export for a second: the 100 % Caravan's last spans (it exports every 200 ms).
     * The 1 % Caravan's few may come up to 5 s later, in another's round: one small export.
     */
    static void awaitExportsSettled() throws InterruptedException {
        long seen;
        do {
            seen = EXPORTS.get();
            Thread.sleep(1_000);
        } while (EXPORTS.get() != seen);
    }

    /** One figure of a mode, round by round. */
    static List<Double> column(Map<Mode, List<double[]>> figures, Mode mode, int index) {
        return figures.get(mode).stream().map(f -> f[index]).toList();
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

    /**
     * Tracing on at {@code ratio}, exporting as Caravan ships (the SDK's batch every 5 s, or sooner when 512 spans
     * wait) unless {@code exportEveryMs} says otherwise.
     */
    static Map<String, String> otel(String endpoint, String ratio, Integer exportEveryMs) {
        Map<String, String> settings = new HashMap<>(Map.of("caravan.otel.enabled", "true",
                "otel.exporter.otlp.endpoint", endpoint,
                "otel.exporter.otlp.protocol", "http/protobuf",
                "otel.traces.sampler", "parentbased_traceidratio",
                "otel.traces.sampler.arg", ratio));
        if (exportEveryMs != null) {
            settings.put("otel.bsp.schedule.delay", exportEveryMs.toString());
        }
        return settings;
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

    static HttpRequest tasks(int port) {
        return Bench.jsonPost(port, "/v1/tasks", TASK);
    }

}
