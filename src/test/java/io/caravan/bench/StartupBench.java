package io.caravan.bench;

import io.caravan.support.BrokerProcess;
import io.caravan.support.Caravan;
import io.caravan.support.TempFolders;
import io.caravan.support.TestKafka;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/**
 * Lean and warm with the launcher's defaults (bench/startup.sh, on demand): Caravan started by {@code bin/caravan}
 * as a user starts it, on each JDK of {@code startup.jdks}, with the JVM options the launcher chose printed beside
 * every figure. Legs: (1) start to {@code /health/ready} with the embedded broker ({@code startup.repeats} times,
 * median); (2) against a broker in another process: idle RSS, then a 5,000-task Kafka burst sent with
 * {@code caravan send} and the RSS after it; (3) a fresh start, then {@code POST /v1/chat/completions} from a
 * bounded load loop (127.0.0.1, {@code startup.connections} clients, {@code startup.seconds} seconds) counting answers
 * per 10 s after ready, against an OpenAI-compatible mock on 127.0.0.1 that answers at once (this JVM; keep-alive
 * connections are never closed idle: bench/startup.sh sets sun.net.httpserver.maxIdleConnections), so Caravan's own
 * code, its HTTP client included, is what warms.
 */
public final class StartupBench {

    static final String CATALOG = """
            providers:
              sim: {api: simulated, latency: 0ms, error_rate: 0}
            models:
              - {name: bench, provider: sim, model: bench-model, price: {input: 0, output: 0}}
            tiers:
              balanced: {model: bench}
            """;

    /** A start on a loaded machine can take over a minute; a slower one counts as failed (-1). */
    static final Duration READY_WITHIN = Duration.ofMinutes(3);

    final Path home = Path.of("").toAbsolutePath();
    final Path work;
    final Path catalog;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    final StringBuilder report = new StringBuilder();
    int legs;

    StartupBench() throws IOException {
        work = Files.createTempDirectory("caravan-startup-bench");
        catalog = work.resolve("catalog.yaml");
        Files.writeString(catalog, CATALOG);
    }

    public static void main(String[] args) throws Exception {
        String jdks = System.getProperty("startup.jdks",
                "17=/usr/lib/jvm/java-17-openjdk-amd64,25=/usr/lib/jvm/temurin-25-jdk-amd64");
        String which = System.getProperty("startup.legs", "ready,burst,warm");
        int repeats = Integer.getInteger("startup.repeats", 3);
        StartupBench bench = new StartupBench();
        BrokerProcess broker = null;
        try {
            if (which.contains("burst") || which.contains("warm")) {
                broker = BrokerProcess.start(bench.work.resolve("broker"), BrokerProcess.freePortPair(),
                        READY_WITHIN);
            }
            for (String jdk : jdks.split(",")) {
                String[] nameHome = jdk.split("=", 2);
                String javaHome = nameHome[1];
                bench.say("== JDK " + nameHome[0] + " (" + javaHome + "), CARAVAN_JAVA_OPTS="
                        + System.getenv().getOrDefault("CARAVAN_JAVA_OPTS", "") + ", CARAVAN_HEAP="
                        + System.getenv().getOrDefault("CARAVAN_HEAP", ""));
                bench.say("   flags: " + bench.flags(javaHome));
                if (which.contains("ready")) {
                    bench.ready(javaHome, repeats);
                }
                if (which.contains("burst")) {
                    bench.burst(javaHome, broker.bootstrapServers(), Integer.getInteger("startup.tasks", 5000));
                }
                if (which.contains("warm")) {
                    bench.warm(javaHome, broker.bootstrapServers(), Integer.getInteger("startup.seconds", 150),
                            Integer.getInteger("startup.connections", 32));
                }
            }
        } finally {
            if (broker != null) {
                broker.close();
            }
            TempFolders.delete(bench.work);
        }
        System.exit(0);
    }

    void say(String line) {
        System.out.println(line);
        report.append(line).append('\n');
    }

    /** The JVM options bin/caravan passes for this JDK (its dry run), without the jar and the command. */
    String flags(String javaHome) throws Exception {
        Process p = launcher(javaHome, List.of("run"), Map.of("CARAVAN_DRY_RUN", "1")).start();
        List<String> lines = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        p.waitFor(10, TimeUnit.SECONDS);
        List<String> options = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            if (line.equals("-jar")) {
                break;
            }
            if (!line.startsWith("-Dcaravan.") && !line.startsWith("-Dkafka.")) {
                options.add(line);
            }
        }
        return String.join(" ", options);
    }

    ProcessBuilder launcher(String javaHome, List<String> args, Map<String, String> env) {
        List<String> cmd = new ArrayList<>();
        cmd.add(home.resolve("bin/caravan").toString());
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(home.toFile());
        pb.environment().put("JAVA_HOME", javaHome);
        pb.environment().putAll(env);
        return pb;
    }

    /** {@code bin/caravan -D... run}: this leg's topics, a free port, the bench catalog; output to a log file. */
    Process run(String javaHome, Map<String, String> settings, String name) throws Exception {
        List<String> args = new ArrayList<>();
        settings.forEach((k, v) -> args.add("-D" + k + "=" + v));
        args.add("run");
        Path log = work.resolve(name + ".log");
        return launcher(javaHome, args, Map.of()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    Map<String, String> settings(int port, String topics) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("caravan.catalog", catalog.toString());
        s.put("caravan.http.port", String.valueOf(port));
        s.put("caravan.topics.tasks", topics + ".tasks");
        s.put("caravan.topics.results", topics + ".results");
        s.put("caravan.topics.usage", topics + ".usage");
        s.put("caravan.topics.dlq", topics + ".dlq");
        return s;
    }

    /** Milliseconds from {@code started} (nanoTime) until /health/ready answers 200; -1 if the process died. */
    long awaitReady(Process p, int port, long started, Duration within) throws Exception {
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready"))
                .timeout(Duration.ofSeconds(1)).build();
        long end = started + within.toNanos();
        while (System.nanoTime() < end && p.isAlive()) {
            try {
                if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return (System.nanoTime() - started) / 1_000_000;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(25);
        }
        return -1;
    }

    static void stop(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(45, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** RSS split into anonymous memory (heap, stacks, malloc) and file pages (the jar, an AOT cache), in MB. */
    static String rssSplit(long pid) {
        try {
            Map<String, Long> kb = new HashMap<>();
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith("RssAnon:") || l.startsWith("RssFile:")) {
                    kb.put(l.substring(0, l.indexOf(':')), Long.parseLong(l.replaceAll("[^0-9]", "")));
                }
            }
            return String.format(Locale.ROOT, "anonymous %d MB + file %d MB", kb.getOrDefault("RssAnon", 0L) / 1024,
                    kb.getOrDefault("RssFile", 0L) / 1024);
        } catch (IOException e) {
            return "gone";
        }
    }

    /** The JVM's own account of its memory, when CARAVAN_JAVA_OPTS has -XX:NativeMemoryTracking=summary. */
    void nativeMemory(String javaHome, long pid) throws Exception {
        if (!String.valueOf(System.getenv("CARAVAN_JAVA_OPTS")).contains("NativeMemoryTracking")) {
            return;
        }
        Process jcmd = new ProcessBuilder(javaHome + "/bin/jcmd", String.valueOf(pid), "VM.native_memory", "summary",
                "scale=MB").redirectErrorStream(true).start();
        String out = new String(jcmd.getInputStream().readAllBytes());
        jcmd.waitFor(30, TimeUnit.SECONDS);
        StringBuilder line = new StringBuilder("   native memory tracking, committed MB:");
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("(?m)^(?:-\\s*)?([A-Z][A-Za-z ]+?) \\(reserved=\\d+MB, committed=(\\d+)MB\\)").matcher(out);
        while (m.find()) {
            line.append(' ').append(m.group(1).trim()).append('=').append(m.group(2));
        }
        say(line.toString());
    }

    static double rssMb(long pid) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith("VmRSS:")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024.0;
                }
            }
        } catch (IOException e) {
            // the process is gone
        }
        return 0;
    }

    /** CPU seconds (user + system) the process used so far; load-independent where wall times are not. */
    /** CPU seconds of the JIT compiler threads alive now (one the JVM retired took its count with it). */
    static double jitSeconds(long pid) {
        try {
            return Bench.jitTicks(pid) / 100.0;
        } catch (IOException e) {
            return 0;
        }
    }

    static double cpuSeconds(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // utime, stime in USER_HZ
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** The start-up's phases from its log, in seconds after the launch; and the JIT's share of the CPU so far. */
    static String timeline(Process p, Path log, long readyMs) throws IOException {
        java.time.Instant launched = p.info().startInstant().orElse(java.time.Instant.now());
        Map<String, String> marks = new LinkedHashMap<>();
        marks.put("logging", " - ");
        marks.put("camel-init", "Apache Camel (Main)");
        marks.put("broker-up", "embedded Kafka broker listening");
        marks.put("topics", "created topics");
        marks.put("routes-loaded", "routes loaded in");
        marks.put("ledger", "spend ledger rebuilt");
        marks.put("camel-started", "(caravan) started in");
        StringBuilder line = new StringBuilder("(s after launch):");
        List<String> lines = Files.readAllLines(log);
        for (Map.Entry<String, String> mark : marks.entrySet()) {
            lines.stream().filter(l -> l.length() > 12 && l.charAt(2) == ':' && l.contains(mark.getValue())).findFirst()
                    .ifPresent(l -> {
                        java.time.Instant at = java.time.LocalTime.parse(l.substring(0, 12))
                                .atDate(java.time.LocalDate.ofInstant(launched, java.time.ZoneId.systemDefault()))
                                .atZone(java.time.ZoneId.systemDefault()).toInstant();
                        line.append(String.format(Locale.ROOT, " %s %.1f", mark.getKey(),
                                Duration.between(launched, at).toMillis() / 1000.0));
                        if (mark.getKey().equals("routes-loaded")) {
                            line.append(" (").append(l.substring(l.indexOf("routes loaded in") + 7)).append(")");
                        }
                    });
        }
        double jit = Bench.jitTicks(p.pid()) / 100.0;
        return line.append(String.format(Locale.ROOT, " ready %.1f; JIT compilers %.1f of %.1f CPU s", readyMs / 1000.0,
                jit, cpuSeconds(p.pid()))).toString();
    }

    void ready(String javaHome, int repeats) throws Exception {
        List<Long> times = new ArrayList<>();
        List<Double> cpu = new ArrayList<>();
        List<Double> rss = new ArrayList<>();
        for (int i = 0; i < repeats; i++) {
            int port = Caravan.freePort();
            Map<String, String> s = settings(port, "ready" + legs++);
            s.put("caravan.embedded-kafka.dir", work.resolve("embedded-" + legs).toString());
            s.put("caravan.embedded-kafka.port", String.valueOf(BrokerProcess.freePortPair()));
            long started = System.nanoTime();
            String name = "ready-" + legs;
            Process p = run(javaHome, s, name);
            try {
                long ms = awaitReady(p, port, started, READY_WITHIN);
                times.add(ms);
                cpu.add(cpuSeconds(p.pid()));
                rss.add(rssMb(p.pid()));
                say("   timeline " + timeline(p, work.resolve(name + ".log"), ms));
            } finally {
                stop(p);
            }
        }
        List<Long> sorted = new ArrayList<>(times);
        Collections.sort(sorted);
        List<Double> cpuSorted = new ArrayList<>(cpu);
        Collections.sort(cpuSorted);
        say(String.format(Locale.ROOT, "   start to ready, embedded broker: median %d ms (runs %s); CPU used by then"
                        + " median %.1f s (runs %s); RSS at ready %s MB", sorted.get(sorted.size() / 2), times,
                cpuSorted.get(cpuSorted.size() / 2), cpu,
                rss.stream().map(r -> String.format(Locale.ROOT, "%.0f", r)).toList()));
    }

    void burst(String javaHome, String bootstrap, int tasks) throws Exception {
        int port = Caravan.freePort();
        String topics = "burst" + legs++;
        Map<String, String> s = settings(port, topics);
        s.put("kafka.bootstrap-servers", bootstrap);
        long started = System.nanoTime();
        Process p = run(javaHome, s, topics);
        try {
            long readyMs = awaitReady(p, port, started, READY_WITHIN);
            double readyCpu = cpuSeconds(p.pid());
            Thread.sleep(Long.getLong("startup.idle-ms", 10_000));
            double idle = rssMb(p.pid());
            Path file = work.resolve(topics + ".jsonl");
            StringBuilder lines = new StringBuilder();
            for (int i = 0; i < tasks; i++) {
                lines.append("{\"id\":\"t-").append(i).append("\",\"model\":\"bench\",\"prompt\":\"task ").append(i)
                        .append(", a prompt of a few words so the task is not empty\"}\n");
            }
            Files.writeString(file, lines);
            AtomicLong peak = new AtomicLong();
            Thread sampler = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    peak.accumulateAndGet((long) rssMb(p.pid()), Math::max);
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            sampler.setDaemon(true);
            sampler.start();
            long sendStart = System.nanoTime();
            Process send = launcher(javaHome, List.of("-Dkafka.bootstrap-servers=" + bootstrap,
                    "-Dcaravan.topics.tasks=" + topics + ".tasks", "send", file.toString()), Map.of())
                    .redirectErrorStream(true).redirectOutput(work.resolve(topics + "-send.log").toFile()).start();
            int got = awaitResults(bootstrap, topics + ".results", tasks, Duration.ofMinutes(5));
            double seconds = (System.nanoTime() - sendStart) / 1e9;
            send.waitFor(30, TimeUnit.SECONDS);
            double after = rssMb(p.pid());
            Thread.sleep(5000);
            double later = rssMb(p.pid());
            sampler.interrupt();
            say(String.format(Locale.ROOT, "   external broker: ready in %d ms (CPU %.1f s); idle RSS %.0f MB; %d-task"
                            + " Kafka burst (caravan send): %d results in %.1f s, RSS peak %d MB, at the end %.0f MB,"
                            + " 5 s later %.0f MB (%s)", readyMs, readyCpu, idle, tasks, got, seconds, peak.get(), after,
                    later, rssSplit(p.pid())));
            nativeMemory(javaHome, p.pid());
        } finally {
            stop(p);
        }
    }

    int awaitResults(String bootstrap, String topic, int count, Duration within) {
        Set<String> seen = new HashSet<>();
        long end = System.nanoTime() + within.toNanos();
        try (KafkaConsumer<String, byte[]> consumer = TestKafka.reader(bootstrap, "earliest")) {
            consumer.subscribe(List.of(topic));
            while (System.nanoTime() < end && seen.size() < count) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> seen.add(r.key()));
            }
        }
        return seen.size();
    }

    /** {@code connections} clients sending {@code request} until {@code end}, counting answers per 10 s from {@code from}. */
    void drive(HttpRequest request, long from, long end, int connections, AtomicIntegerArray answered,
            AtomicIntegerArray failed) throws InterruptedException {
        List<Thread> clients = new ArrayList<>();
        for (int c = 0; c < connections; c++) {
            Thread t = new Thread(() -> {
                while (System.nanoTime() < end) {
                    boolean ok;
                    try {
                        ok = http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
                    } catch (IOException e) {
                        ok = false;
                    } catch (InterruptedException e) {
                        return;
                    }
                    int bucket = (int) ((System.nanoTime() - from) / 10_000_000_000L);
                    if (bucket < answered.length()) {
                        (ok ? answered : failed).incrementAndGet(bucket);
                    }
                }
            });
            t.start();
            clients.add(t);
        }
        for (Thread t : clients) {
            t.join();
        }
    }

    /** An OpenAI-compatible provider on 127.0.0.1 answering a fixed chat.completion at once. */
    static com.sun.net.httpserver.HttpServer startMock() throws IOException {
        com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 4096);
        byte[] body = Bench.COMPLETION.getBytes(StandardCharsets.UTF_8);
        server.createContext("/", exchange -> {
            try (var in = exchange.getRequestBody()) {
                in.readAllBytes();
            }
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.setExecutor(java.util.concurrent.Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "mock-provider");
            t.setDaemon(true); // a leg that fails must not keep the bench's JVM alive
            return t;
        }));
        server.start();
        return server;
    }

    void warm(String javaHome, String bootstrap, int seconds, int connections) throws Exception {
        com.sun.net.httpserver.HttpServer mock = startMock();
        try {
            warm(javaHome, bootstrap, seconds, connections, mock.getAddress().getPort());
        } finally {
            mock.stop(0);
            ((java.util.concurrent.ExecutorService) mock.getExecutor()).shutdownNow();
        }
    }

    void warm(String javaHome, String bootstrap, int seconds, int connections, int mockPort) throws Exception {
        int port = Caravan.freePort();
        String topics = "warm" + legs++;
        Map<String, String> s = settings(port, topics);
        s.put("kafka.bootstrap-servers", bootstrap);
        // the provider is a real HTTP call (a mock on 127.0.0.1), so the client and connection pool warm too
        Path warmCatalog = work.resolve("warm-catalog.yaml");
        Files.writeString(warmCatalog, String.format(Locale.ROOT, """
                providers:
                  mock: {api: openai, base_url: "http://127.0.0.1:%d/v1", api_keys: ["sk-bench"], retries: 0, timeout: 30s}
                models:
                  - {name: bench, provider: mock, model: bench-model, price: {input: 0, output: 0}}
                tiers:
                  balanced: {model: bench}
                """, mockPort));
        s.put("caravan.catalog", warmCatalog.toString());
        // the bench's own client and the mock are JIT-compiled before Caravan starts, so the figures are Caravan's
        // warm-up and not this JVM's
        int harnessSeconds = Integer.getInteger("startup.harness-warm-seconds", 20);
        if (harnessSeconds > 0) {
            HttpRequest direct = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + mockPort + "/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(
                            "{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}"))
                    .build();
            long from = System.nanoTime();
            AtomicIntegerArray directAnswers = new AtomicIntegerArray((harnessSeconds + 9) / 10);
            drive(direct, from, from + TimeUnit.SECONDS.toNanos(harnessSeconds), connections, directAnswers,
                    new AtomicIntegerArray(directAnswers.length()));
            List<Integer> perSecond = new ArrayList<>();
            for (int i = 0; i < directAnswers.length(); i++) {
                perSecond.add(directAnswers.get(i) / 10);
            }
            say("   harness warmed first: " + connections + " clients straight at the mock for " + harnessSeconds
                    + " s, req/s per 10 s " + perSecond);
        }
        long started = System.nanoTime();
        Process p = run(javaHome, s, topics);
        try {
            long readyMs = awaitReady(p, port, started, READY_WITHIN);
            long readyAt = System.nanoTime();
            int buckets = (seconds + 9) / 10;
            AtomicIntegerArray answered = new AtomicIntegerArray(buckets);
            AtomicIntegerArray failed = new AtomicIntegerArray(buckets);
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(
                            "{\"model\":\"bench\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}"))
                    .build();
            long end = readyAt + TimeUnit.SECONDS.toNanos(seconds);
            // Caravan's CPU at each 10 s mark: answers per CPU second show the warm-up whatever else the machine runs
            double[] cpuAt = new double[buckets + 1];
            double[] jitAt = new double[buckets + 1];
            cpuAt[0] = cpuSeconds(p.pid());
            jitAt[0] = jitSeconds(p.pid());
            Thread cpuSampler = new Thread(() -> {
                for (int i = 1; i <= buckets; i++) {
                    long wait = readyAt + i * 10_000_000_000L - System.nanoTime();
                    try {
                        TimeUnit.NANOSECONDS.sleep(Math.max(0, wait));
                    } catch (InterruptedException e) {
                        return;
                    }
                    cpuAt[i] = cpuSeconds(p.pid());
                    jitAt[i] = jitSeconds(p.pid());
                }
            });
            cpuSampler.start();
            drive(request, readyAt, end, connections, answered, failed);
            cpuSampler.join(15_000);
            double rss = rssMb(p.pid());
            List<Integer> perCpuSecond = new ArrayList<>();
            for (int i = 0; i < buckets; i++) {
                double used = cpuAt[i + 1] - cpuAt[i];
                perCpuSecond.add(used <= 0 ? 0 : (int) (answered.get(i) / used));
            }
            List<String> jitPerBucket = new ArrayList<>();
            for (int i = 0; i < buckets; i++) {
                jitPerBucket.add(String.format(Locale.ROOT, "%.1f/%.1f", Math.max(0, jitAt[i + 1] - jitAt[i]),
                        cpuAt[i + 1] - cpuAt[i]));
            }
            List<Integer> lastCpu = new ArrayList<>(perCpuSecond.subList(Math.max(0, buckets - 3), buckets));
            Collections.sort(lastCpu);
            int steadyCpu = lastCpu.get(lastCpu.size() / 2);
            List<Integer> perSecond = new ArrayList<>();
            for (int i = 0; i < buckets; i++) {
                perSecond.add(answered.get(i) / 10);
            }
            // steady state: the median of the last three 10 s buckets
            List<Integer> last = new ArrayList<>(perSecond.subList(Math.max(0, buckets - 3), buckets));
            Collections.sort(last);
            int steady = last.get(last.size() / 2);
            int firstThree = (perSecond.get(0) + perSecond.get(1) + perSecond.get(2)) / 3;
            int failures = 0;
            for (int i = 0; i < buckets; i++) {
                failures += failed.get(i);
            }
            say(String.format(Locale.ROOT, "   warm-up after ready (%d ms), %d clients, POST /v1/chat/completions:"
                            + " req/s per 10 s %s; steady %d; first 30 s %d (%.0f%% of steady), 10-20 s %.0f%%,"
                            + " 20-30 s %.0f%%; failed %d; RSS after %.0f MB%n"
                            + "   answers per CPU second of Caravan per 10 s %s; first 30 s %.0f%% of steady, 20-30 s %.0f%%%n"
                            + "   CPU s of the JIT compiler threads / of all Caravan per 10 s %s",
                    readyMs, connections, perSecond, steady, firstThree, 100.0 * firstThree / steady,
                    100.0 * perSecond.get(1) / steady, 100.0 * perSecond.get(2) / steady, failures, rss,
                    perCpuSecond, 100.0 * (perCpuSecond.get(0) + perCpuSecond.get(1) + perCpuSecond.get(2)) / 3 / steadyCpu,
                    100.0 * perCpuSecond.get(2) / steadyCpu, jitPerBucket));
        } finally {
            stop(p);
        }
    }
}
