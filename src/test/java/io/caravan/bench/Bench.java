package io.caravan.bench;

import com.sun.net.httpserver.HttpServer;
import io.caravan.support.Caravan;
import io.caravan.support.CaravanProcess;
import io.caravan.support.TestKafka;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Caravan's benchmark (run on demand with {@code bench/run.sh}, never in CI). This JVM hosts the Kafka broker, a
 * fast mock upstream (a fixed chat.completion, delayed by the catalog's base_url path: {@code /d200/v1} answers
 * after 200 ms) and the load generators; Caravan runs in a JVM of its own, whose RSS and CPU are sampled.
 *
 * <p>Legs, each repeated over {@code bench.rounds} rounds (default 2) so the legs alternate: (1) Kafka tasks/s from
 * producing N tasks to reading N results, at upstream latency 0, 200 ms and 1 s and several
 * {@code caravan.max-in-flight}; (2) HTTP {@code POST /v1/chat/completions} and {@code /v1/tasks} requests/s at 16
 * and 64 connections (wrk), against the mock directly for scale; (3) the latency a single sequential client adds
 * over calling the mock directly (p50, p99), rounds alternating between the mock and the two endpoints.
 */
public final class Bench {

    static final String COMPLETION = """
            {"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"bench-model",
             "choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}}""".replace("\n", "");

    final StringBuilder report = new StringBuilder();
    final String javaBin;
    final List<String> jvmOptions;
    final List<String> kafkaJvmOptions;
    int mockPort;
    int lastFailed;

    /** The base options of one kind of leg (a property replaces the default), then -Dbench.jvm-options. */
    static List<String> jvmOptions(String property, String defaults) {
        List<String> jvm = new ArrayList<>(Arrays.asList(System.getProperty(property, defaults).trim().split("\\s+")));
        String extra = System.getProperty("bench.jvm-options", "");
        if (!extra.isBlank()) {
            jvm.addAll(Arrays.asList(extra.trim().split("\\s+")));
        }
        return jvm;
    }

    Bench(String javaBin, List<String> jvmOptions, List<String> kafkaJvmOptions) {
        this.javaBin = javaBin;
        this.jvmOptions = jvmOptions;
        this.kafkaJvmOptions = kafkaJvmOptions;
    }

    public static void main(String[] args) throws Exception {
        String javaBin = System.getProperty("bench.java", ProcessHandle.current().info().command().orElse("java"));
        // the heap each kind of leg needs: HTTP runs at most a few hundred calls at once; the Kafka legs hold up
        // to 2,048 tasks in flight, which in 128 MB spend a fifth of the time in young collections
        List<String> jvm = jvmOptions("bench.jvm-base", "-Xmx128m -XX:+UseSerialGC");
        List<String> kafkaJvm = jvmOptions("bench.kafka.jvm-base", "-Xmx256m -XX:+UseSerialGC");
        Bench bench = new Bench(javaBin, jvm, kafkaJvm);
        String legs = System.getProperty("bench.legs", "kafka,http,latency");
        bench.line("# Caravan benchmark " + LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME));
        bench.line("caravan JVM: " + javaBin + "; HTTP legs " + String.join(" ", jvm) + "; Kafka legs "
                + String.join(" ", kafkaJvm) + "; " + Runtime.getRuntime().availableProcessors()
                + " cores; load generator, broker and mock on the same box");
        HttpServer mock = bench.startMock();
        TestKafka.bootstrapServers();
        try {
            if (legs.contains("kafka")) {
                bench.kafkaLegs();
            }
            if (legs.contains("http")) {
                bench.httpLegs();
            }
            if (legs.contains("latency")) {
                bench.latencyLeg();
            }
        } catch (Throwable e) {
            e.printStackTrace();
            bench.line("benchmark failed: " + e);
            System.exit(1);
        } finally {
            mock.stop(0);
        }
        Path dir = Path.of("bench/results");
        Files.createDirectories(dir);
        Path out = dir.resolve("bench-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))
                + ".txt");
        Files.writeString(out, bench.report.toString());
        System.out.println("written to " + out);
        System.exit(0);
    }

    void line(String text) {
        System.out.println(text);
        report.append(text).append('\n');
    }

    /** A fixed chat.completion, answered after x-mock-delay-ms without holding a thread. */
    HttpServer startMock() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 4096);
        ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
        byte[] body = COMPLETION.getBytes(StandardCharsets.UTF_8);
        // the delay comes in the path: base_url http://127.0.0.1:PORT/d200/v1 waits 200 ms before answering
        server.createContext("/", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                in.readAllBytes();
            }
            String path = exchange.getRequestURI().getPath();
            long ms = path.startsWith("/d") ? Long.parseLong(path.substring(2, path.indexOf('/', 2))) : 0;
            Runnable answer = () -> {
                try {
                    exchange.getResponseHeaders().set("Content-Type", "application/json");
                    exchange.sendResponseHeaders(200, body.length);
                    exchange.getResponseBody().write(body);
                    exchange.close();
                } catch (IOException e) {
                    exchange.close();
                }
            };
            if (ms > 0) {
                timer.schedule(answer, ms, TimeUnit.MILLISECONDS);
            } else {
                answer.run();
            }
        });
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        mockPort = server.getAddress().getPort();
        return server;
    }

    /** The measured group m (upstream delayed by delayMs) and a group warm (no delay) to warm the JIT up with. */
    String catalog(long delayMs) {
        return """
                providers:
                  mock:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/d%2$d/v1
                    api_keys: ["sk-bench"]
                    retries: 0
                    timeout: 30s
                  warm:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/d0/v1
                    api_keys: ["sk-bench"]
                    retries: 0
                models:
                  - name: m
                    provider: mock
                    model: bench-model
                    price: {input: 0.10, output: 0.20}
                  - name: warm
                    provider: warm
                    model: bench-model
                    price: {input: 0.10, output: 0.20}
                tiers:
                  fast: {model: m}
                default_tier: fast
                """.formatted(mockPort, delayMs);
    }

    // ---- Kafka ----

    void kafkaLegs() throws Exception {
        line("");
        line("## Kafka: tasks/s from producing N tasks to reading N results (4 partitions)");
        line(String.format(Locale.ROOT, "%-10s %-14s %8s %10s %10s %9s %9s", "upstream", "max-in-flight", "tasks",
                "seconds", "tasks/s", "RSS MB", "CPU cores"));
        long[] latencies = longs(System.getProperty("bench.kafka.latencies", "0,200,1000"));
        long[] limits = longs(System.getProperty("bench.kafka.in-flight", "256,1024,2048"));
        int rounds = Integer.getInteger("bench.rounds", 2);
        for (int round = 0; round < rounds; round++) {
            for (long latency : latencies) {
                for (long limit : limits) {
                    int n = Integer.getInteger("bench.kafka.tasks",
                            (int) Math.min(20000, Math.max(4000, limit * 1000 / Math.max(latency, 100) * 4)));
                    kafkaLeg(latency, (int) limit, n);
                }
            }
        }
    }

    void kafkaLeg(long latencyMs, int maxInFlight, int n) throws Exception {
        String prefix = Caravan.newPrefix();
        TestKafka.createTopic(prefix + ".tasks", 4);
        TestKafka.createTopic(prefix + ".results", 4);
        Map<String, String> settings = new java.util.HashMap<>(extraSettings());
        settings.put("caravan.max-in-flight", String.valueOf(maxInFlight));
        try (CaravanProcess caravan = CaravanProcess.start(catalog(latencyMs), prefix, settings, javaBin, kafkaJvmOptions)) {
            CaravanProcess.awaitGroupMembers(prefix + "-group", 1, Duration.ofSeconds(60));
            // warm-up, not measured: the JIT compiles for well over 20 s on two cores, so a short leg on a fresh
            // JVM would measure the compiler; tasks to the undelayed group take the same code paths
            long warmUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(Integer.getInteger("bench.kafka.warmup-seconds", 30));
            for (int batch = 0; System.nanoTime() < warmUntil; batch++) {
                runTasks(prefix, 5000, "warm-" + batch + "-", "warm");
            }
            Sampler sampler = new Sampler(caravan.process.pid());
            long start = System.nanoTime();
            int got = runTasks(prefix, n, "b-", "auto");
            double seconds = (System.nanoTime() - start) / 1e9;
            Sampler.Sample sample = sampler.stop();
            line(String.format(Locale.ROOT, "%-10s %-14d %8d %10.2f %10.0f %9.0f %9.2f",
                    latencyMs + "ms", maxInFlight, got, seconds, got / seconds, sample.maxRssMb(), sample.cores()));
            if (got < n) {
                line("  (only " + got + " of " + n + " results within the time limit)");
            }
            if (lastFailed > 0) {
                line("  (" + lastFailed + " of them error results: the figure is not valid)");
            }
        }
    }

    /** Caravan settings for every leg, from -Dbench.settings=name=value,name=value. */
    static Map<String, String> extraSettings() {
        Map<String, String> settings = new java.util.HashMap<>();
        for (String pair : System.getProperty("bench.settings", "").split(",")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                settings.put(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
            }
        }
        return settings;
    }

    /** Produces n tasks and reads until n distinct results came back; returns how many did. */
    int runTasks(String prefix, int n, String idPrefix, String model) {
        Set<String> seen = new HashSet<>();
        Set<String> failed = new HashSet<>();
        try (KafkaConsumer<String, byte[]> consumer = TestKafka.reader(TestKafka.bootstrapServers(), "latest");
                KafkaProducer<String, byte[]> producer = TestKafka.producer()) {
            consumer.subscribe(List.of(prefix + ".results"));
            while (consumer.assignment().isEmpty()) {
                consumer.poll(Duration.ofMillis(100));
            }
            consumer.seekToEnd(consumer.assignment());
            consumer.assignment().forEach(consumer::position);
            Thread sender = new Thread(() -> {
                for (int i = 0; i < n; i++) {
                    String id = idPrefix + i;
                    producer.send(new ProducerRecord<>(prefix + ".tasks", id,
                            ("{\"id\":\"" + id + "\",\"model\":\"" + model + "\",\"prompt\":\"Say ok " + i
                                    + "\",\"params\":{\"max_tokens\":8}}")
                                    .getBytes(StandardCharsets.UTF_8)));
                }
                producer.flush();
            });
            sender.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
            while (seen.size() < n && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(100)).forEach(r -> {
                    if (r.key() != null && r.key().startsWith(idPrefix)) {
                        seen.add(r.key());
                        if (!new String(r.value(), StandardCharsets.UTF_8).contains("\"status\":\"ok\"")) {
                            failed.add(r.key());
                        }
                    }
                });
            }
            sender.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        lastFailed = failed.size();
        return seen.size();
    }

    // ---- HTTP ----

    void httpLegs() throws Exception {
        line("");
        line("## HTTP POST /v1/tasks and /v1/chat/completions: requests/s (wrk, 10 s, upstream latency 0)");
        if (!hasWrk()) {
            line("wrk not installed: skipped (apt-get install -y wrk)");
            return;
        }
        Path script = Files.createTempFile("bench", ".lua");
        script.toFile().deleteOnExit();
        Files.writeString(script, """
                wrk.method = "POST"
                wrk.headers["Content-Type"] = "application/json"
                wrk.body = '{"prompt":"Say ok","params":{"max_tokens":8}}'
                """);
        Path mockScript = Files.createTempFile("bench-mock", ".lua");
        mockScript.toFile().deleteOnExit();
        Files.writeString(mockScript, """
                wrk.method = "POST"
                wrk.headers["Content-Type"] = "application/json"
                wrk.body = '{"model":"bench-model","messages":[{"role":"user","content":"Say ok"}],"max_tokens":8}'
                """);
        Path chatScript = Files.createTempFile("bench-chat", ".lua");
        chatScript.toFile().deleteOnExit();
        Files.writeString(chatScript, """
                wrk.method = "POST"
                wrk.headers["Content-Type"] = "application/json"
                wrk.body = '{"model":"auto","messages":[{"role":"user","content":"Say ok"}],"max_tokens":8}'
                """);
        line(String.format(Locale.ROOT, "%-22s %-12s %10s %10s %10s %9s %9s", "target", "connections", "req/s",
                "p50 ms", "p99 ms", "RSS MB", "CPU cores"));
        String prefix = Caravan.newPrefix();
        int port = Caravan.freePort();
        try (CaravanProcess caravan = startHttp(prefix, port)) {
            waitForHttp(port);
            // warm-up: on two cores C2 is still compiling the routes after 30 s of load (round 1 measured it)
            wrk("http://127.0.0.1:" + port + "/v1/tasks", script, 16, Integer.getInteger("bench.http.warmup-seconds", 40),
                    null);
            wrk("http://127.0.0.1:" + port + "/v1/chat/completions", chatScript, 16, 10, null);
            int rounds = Integer.getInteger("bench.rounds", 2);
            for (int round = 0; round < rounds; round++) {
                for (long connections : longs(System.getProperty("bench.http.connections", "16,64"))) {
                    Sampler sampler = new Sampler(caravan.process.pid());
                    String[] r = wrk("http://127.0.0.1:" + port + "/v1/tasks", script, (int) connections, 10, null);
                    Sampler.Sample s = sampler.stop();
                    line(String.format(Locale.ROOT, "%-22s %-12d %10s %10s %10s %9.0f %9.2f", "caravan /v1/tasks",
                            connections, r[0], r[1], r[2], s.maxRssMb(), s.cores()));
                    Sampler chatSampler = new Sampler(caravan.process.pid());
                    String[] c = wrk("http://127.0.0.1:" + port + "/v1/chat/completions", chatScript, (int) connections, 10,
                            null);
                    Sampler.Sample cs = chatSampler.stop();
                    line(String.format(Locale.ROOT, "%-22s %-12d %10s %10s %10s %9.0f %9.2f", "caravan /v1/chat",
                            connections, c[0], c[1], c[2], cs.maxRssMb(), cs.cores()));
                    String[] m = wrk("http://127.0.0.1:" + mockPort + "/v1/chat/completions", mockScript, (int) connections,
                            10, null);
                    line(String.format(Locale.ROOT, "%-22s %-12d %10s %10s %10s %9s %9s", "mock directly",
                            connections, m[0], m[1], m[2], "-", "-"));
                }
            }
        }
    }

    /** Caravan serving HTTP on this port, with the -Dbench.settings of every leg. */
    CaravanProcess startHttp(String prefix, int port) throws IOException {
        Map<String, String> settings = new java.util.HashMap<>(extraSettings());
        settings.put("caravan.http.port", String.valueOf(port));
        return CaravanProcess.start(catalog(0), prefix, settings, javaBin, jvmOptions);
    }

    static boolean hasWrk() {
        try {
            return new ProcessBuilder("wrk", "--version").redirectErrorStream(true).start().waitFor() >= 0;
        } catch (Exception e) {
            return false;
        }
    }

    /** Runs wrk; returns requests/s, p50 and p99 in ms. */
    static String[] wrk(String url, Path script, int connections, int seconds, String unused) throws Exception {
        Process p = new ProcessBuilder("wrk", "-t2", "-c" + connections, "-d" + seconds + "s", "--latency", "-s",
                script.toString(), url).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        String rps = "?";
        String p50 = "?";
        String p99 = "?";
        for (String l : out.split("\n")) {
            String t = l.trim();
            if (t.startsWith("Requests/sec:")) {
                rps = t.substring("Requests/sec:".length()).trim();
            } else if (t.startsWith("50%")) {
                p50 = millis(t.substring(3).trim());
            } else if (t.startsWith("99%")) {
                p99 = millis(t.substring(3).trim());
            } else if (t.startsWith("Non-2xx")) {
                System.out.println("  wrk: " + t);
            }
        }
        return new String[] {rps, p50, p99};
    }

    static String millis(String wrkTime) {
        double value;
        if (wrkTime.endsWith("us")) {
            value = Double.parseDouble(wrkTime.substring(0, wrkTime.length() - 2)) / 1000;
        } else if (wrkTime.endsWith("ms")) {
            value = Double.parseDouble(wrkTime.substring(0, wrkTime.length() - 2));
        } else if (wrkTime.endsWith("s")) {
            value = Double.parseDouble(wrkTime.substring(0, wrkTime.length() - 1)) * 1000;
        } else {
            return wrkTime;
        }
        return String.format(Locale.ROOT, "%.2f", value);
    }

    static void waitForHttp(int port) throws Exception {
        if (!answers200(port, "/v1/tasks", "{\"prompt\":\"hi\"}")) {
            throw new IllegalStateException("Caravan's HTTP port never opened");
        }
    }

    /** Posts {@code body} to {@code path} until it answers 200 (true) or a minute has passed (false). */
    static boolean answers200(int port, String path, String body) throws Exception {
        return answers200(port, path, body, 60);
    }

    /** The same within this many seconds (several JVMs starting on a loaded box take longer than a minute). */
    static boolean answers200(int port, String path, String body, int seconds) throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < end) {
            try {
                if (client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return true;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        return false;
    }

    // ---- sequential latency ----

    void latencyLeg() throws Exception {
        line("");
        line("## Sequential client: latency added by Caravan over calling the mock directly (upstream latency 0)");
        String prefix = Caravan.newPrefix();
        int port = Caravan.freePort();
        int perRound = Integer.getInteger("bench.latency.requests", 5000);
        int rounds = Integer.getInteger("bench.latency.rounds", 4);
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String upstreamChat = "{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Say ok\"}]}";
        HttpRequest direct = jsonPost(mockPort, "/v1/chat/completions", upstreamChat);
        HttpRequest chat = jsonPost(port, "/v1/chat/completions",
                "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"Say ok\"}],\"max_tokens\":8}");
        HttpRequest tasks = jsonPost(port, "/v1/tasks", "{\"prompt\":\"Say ok\",\"params\":{\"max_tokens\":8}}");
        int barePort = Caravan.freePort();
        HttpRequest bare = jsonPost(barePort, "/v1/chat/completions", upstreamChat);
        Process bareProxy = startBareProxy(barePort);
        try (CaravanProcess caravan = startHttp(prefix, port)) {
            waitForHttp(port);
            // warm-up: the JIT needs many thousand calls on two cores before the figures settle
            time(client, chat, 10000);
            time(client, tasks, 5000);
            time(client, bare, 10000);
            time(client, direct, 3000);
            List<Long> directTimes = new ArrayList<>();
            Map<String, List<Long>> legs = new java.util.LinkedHashMap<>();
            for (String leg : List.of("bare Camel proxy", "Caravan /v1/chat/completions", "Caravan /v1/tasks")) {
                legs.put(leg, new ArrayList<>());
            }
            for (int round = 0; round < rounds; round++) {
                directTimes.addAll(time(client, direct, perRound));
                legs.get("bare Camel proxy").addAll(time(client, bare, perRound));
                legs.get("Caravan /v1/chat/completions").addAll(time(client, chat, perRound));
                legs.get("Caravan /v1/tasks").addAll(time(client, tasks, perRound));
            }
            double d50 = percentile(directTimes, 50);
            double d99 = percentile(directTimes, 99);
            line(String.format(Locale.ROOT, "%-32s %10s %10s", "", "p50 ms", "p99 ms"));
            line(String.format(Locale.ROOT, "%-32s %10.3f %10.3f", "mock directly", d50, d99));
            for (Map.Entry<String, List<Long>> leg : legs.entrySet()) {
                double v50 = percentile(leg.getValue(), 50);
                double v99 = percentile(leg.getValue(), 99);
                line(String.format(Locale.ROOT, "%-32s %10.3f %10.3f", "via " + leg.getKey(), v50, v99));
                line(String.format(Locale.ROOT, "%-32s %10.3f %10.3f", "  added", v50 - d50, v99 - d99));
            }
            line("(" + rounds + " alternating rounds of " + perRound + " requests each; the bare Camel proxy is the"
                    + " same stack, platform-http to camel-http, with no Caravan step: the floor of the added latency)");
            cpuPerRequest(caravan.process.pid(), client, chat, perRound * 2);
        } finally {
            bareProxy.destroyForcibly();
        }
    }

    static HttpRequest jsonPost(int port, String path, String json) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .build();
    }

    /** {@link BareCamelProxy} in a JVM of its own, with Caravan's JVM options, answering once warm. */
    Process startBareProxy(int port) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(javaBin);
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), BareCamelProxy.class.getName(),
                String.valueOf(port), "http://127.0.0.1:" + mockPort + "/d0/v1/chat/completions"));
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (answers200(port, "/v1/chat/completions", "{}")) {
            return process;
        }
        process.destroyForcibly();
        throw new IllegalStateException("the bare Camel proxy never answered");
    }

    /** Where a sequential request's CPU goes: Caravan's CPU time by thread pool, per request, over a counted run. */
    void cpuPerRequest(long pid, HttpClient client, HttpRequest request, int count) throws Exception {
        Map<String, Long> before = threadCpuTicks(pid);
        time(client, request, count);
        Map<String, Long> after = threadCpuTicks(pid);
        line("Caravan CPU per sequential /v1/chat/completions request, by thread (" + count + " requests):");
        long total = 0;
        List<Map.Entry<String, Long>> used = new ArrayList<>();
        for (Map.Entry<String, Long> e : after.entrySet()) {
            long ticks = e.getValue() - before.getOrDefault(e.getKey(), 0L);
            total += ticks;
            if (ticks > 0) {
                used.add(Map.entry(e.getKey(), ticks));
            }
        }
        used.sort(Map.Entry.<String, Long>comparingByValue().reversed());
        for (Map.Entry<String, Long> e : used) {
            line(String.format(Locale.ROOT, "  %-32s %8.1f us", e.getKey(), e.getValue() * 10_000.0 / count));
        }
        line(String.format(Locale.ROOT, "  %-32s %8.1f us", "total", total * 10_000.0 / count));
    }

    /** CPU ticks of the process's JIT compiler threads ({@code C1/C2 CompilerThreadN}); a thread that ended is gone. */
    static long jitTicks(long pid) throws IOException {
        return threadCpuTicks(pid).entrySet().stream().filter(e -> e.getKey().contains("CompilerThre")) // comm is cut at 15 characters
                .mapToLong(Map.Entry::getValue).sum();
    }

    /** CPU ticks (USER_HZ, 10 ms) of each thread of a process, summed by thread name with the numbers masked. */
    static Map<String, Long> threadCpuTicks(long pid) throws IOException {
        Map<String, Long> ticks = new java.util.TreeMap<>();
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path task : tasks.toList()) {
                try {
                    String name = Files.readString(task.resolve("comm")).trim().replaceAll("[0-9]+", "N");
                    ticks.merge(name, cpuTicks(task.resolve("stat")), Long::sum);
                } catch (IOException e) {
                    // the thread ended meanwhile
                }
            }
        }
        return ticks;
    }

    /** User plus system CPU ticks (USER_HZ) from a /proc stat file (a process's or a thread's). */
    static long cpuTicks(Path stat) throws IOException {
        String[] f = statFields(stat);
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** The user-time part of {@link #cpuTicks}. */
    static long userTicks(Path stat) throws IOException {
        return Long.parseLong(statFields(stat)[11]);
    }

    /** The fields of a {@code /proc/<pid>/stat} after the command name (which may hold spaces), from the state on. */
    private static String[] statFields(Path stat) throws IOException {
        String text = Files.readString(stat);
        return text.substring(text.lastIndexOf(')') + 2).split(" ");
    }

    static List<Long> time(HttpClient client, HttpRequest request, int count) throws Exception {
        List<Long> times = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long t = System.nanoTime();
            HttpResponse<byte[]> r = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
            times.add(System.nanoTime() - t);
            if (r.statusCode() != 200) {
                throw new IllegalStateException("status " + r.statusCode() + ": " + new String(r.body()));
            }
        }
        return times;
    }

    static double percentile(List<Long> nanos, int pct) {
        List<Long> sorted = new ArrayList<>(nanos);
        sorted.sort(null);
        int index = (int) Math.ceil(pct / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, index)) / 1e6;
    }

    static long[] longs(String csv) {
        return Arrays.stream(csv.split(",")).map(String::trim).mapToLong(Long::parseLong).toArray();
    }

    /** RSS (max) and CPU (mean cores) of a process, from /proc, sampled every 200 ms. */
    static final class Sampler {
        record Sample(double maxRssMb, double cores) {}

        private final long pid;
        private final long startCpu;
        private final long startNanos = System.nanoTime();
        private volatile double maxRss;
        private final Thread thread;

        Sampler(long pid) {
            this.pid = pid;
            this.startCpu = cpuTicks();
            this.thread = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    maxRss = Math.max(maxRss, rssMb());
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            thread.setDaemon(true);
            thread.start();
        }

        Sample stop() {
            thread.interrupt();
            double seconds = (System.nanoTime() - startNanos) / 1e9;
            double cpuSeconds = (cpuTicks() - startCpu) / 100.0; // USER_HZ
            return new Sample(Math.max(maxRss, rssMb()), cpuSeconds / seconds);
        }

        double rssMb() {
            try {
                for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                    if (l.startsWith("VmRSS:")) {
                        return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024.0;
                    }
                }
            } catch (IOException e) {
                // gone
            }
            return 0;
        }

        long cpuTicks() {
            try {
                return Bench.cpuTicks(Path.of("/proc/" + pid + "/stat"));
            } catch (IOException e) {
                return 0;
            }
        }
    }
}
