package io.caravan.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.CaravanApp;
import io.caravan.Settings;
import io.caravan.catalog.CatalogLoader;
import io.caravan.support.Caravan;
import io.caravan.support.HostileUpstream;
import io.caravan.util.Json;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The heavy version of the answer-bound and deadline tests (issue 13, points 3 and 8), run by
 * {@code bench/faults/huge-answers.sh} in a small heap: a Caravan (HTTP only, no broker) in this JVM, and on
 * 127.0.0.1 a hostile upstream sending 200 MiB answers, a gzip bomb inflating to 1 GiB, SSE lines and events without
 * end, a drip, and a stream of keep-alives. Each scenario sends a few requests at once and reports how they ended,
 * how long they took and the peak heap while they ran; every hostile deployment falls back to a good one.
 *
 * <p>Settings (system properties): {@code faults.huge} bytes per hostile answer (default 200 MiB),
 * {@code faults.concurrency} requests at once per scenario (default 4).
 */
public final class HugeAnswers {

    public static void main(String[] args) throws Exception {
        int huge = Integer.getInteger("faults.huge", 200 << 20);
        int concurrency = Integer.getInteger("faults.concurrency", 4);
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        try (HostileUpstream upstream = new HostileUpstream(huge)) {
            System.out.printf("JVM %s, max heap %d MiB; hostile answers of %d MiB, a gzip bomb of %d KiB inflating "
                    + "to %d MiB; %d requests at once%n", System.getProperty("java.version"),
                    memory.getHeapMemoryUsage().getMax() >> 20, huge >> 20, upstream.bombBytes() >> 10, huge >> 20,
                    concurrency);
            CaravanApp app = start(upstream.port());
            int port = Integer.parseInt(System.getProperty("faults.port"));
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            ExecutorService callers = Executors.newFixedThreadPool(concurrency);
            try {
                System.out.printf("%-9s %-7s %-38s %9s %13s%n", "scenario", "kind", "outcomes", "max ms", "peak heap MiB");
                for (String[] s : new String[][] {
                        {"big", "task"}, {"chunked", "task"}, {"bomb", "task"}, {"drip", "task"},
                        {"sseline", "stream"}, {"sseevent", "stream"}, {"lateline", "stream"}, {"ping", "stream"}}) {
                    run(http, callers, port, s[0], s[1].equals("stream"), concurrency, memory);
                }
                long start = System.nanoTime();
                HttpResponse<String> live = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/health/live")).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                System.out.printf("afterwards: /health/live %d in %d ms; the hostile upstream saw %s dropped%n",
                        live.statusCode(), (System.nanoTime() - start) / 1_000_000, upstream.closedByCaravan);
            } finally {
                callers.shutdownNow();
                app.close();
            }
        }
        System.exit(0);
    }

    static CaravanApp start(int upstreamPort) throws Exception {
        StringBuilder providers = new StringBuilder("providers:\n");
        for (String name : List.of("big", "chunked", "bomb", "drip", "sseline", "sseevent", "lateline", "ping",
                "ok", "okstream")) {
            providers.append("""
                      %1$s:
                        api: openai
                        base_url: http://127.0.0.1:%2$d/%1$s/v1
                        api_keys: ["k"]
                        timeout: %3$s
                        retries: 2
                        backoff: 50ms
                    """.formatted(name, upstreamPort, name.equals("ping") ? "2s" : "60s"));
        }
        StringBuilder models = new StringBuilder("models:\n");
        StringBuilder fallbacks = new StringBuilder("fallbacks:\n");
        for (String name : List.of("big", "chunked", "bomb", "drip", "sseline", "sseevent", "lateline", "ping")) {
            models.append("  - {name: %1$s, provider: %1$s, model: m, price: {input: 1, output: 1}}\n".formatted(name));
            boolean stream = List.of("sseline", "sseevent", "lateline", "ping").contains(name);
            fallbacks.append("  ").append(name).append(": [").append(stream ? "rescuestream" : "rescue").append("]\n");
        }
        models.append("  - {name: rescue, provider: ok, model: m, price: {input: 1, output: 1}}\n"
                + "  - {name: rescuestream, provider: okstream, model: m, price: {input: 1, output: 1}}\n");
        String catalog = providers + models.toString() + fallbacks + "tiers:\n  balanced: {model: rescue}\n"
                + "default_tier: balanced\n";
        Path dir = Files.createTempDirectory("caravan-faults");
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, catalog);
        // a main run by a script: both go when the JVM ends (the file first, it was registered last)
        dir.toFile().deleteOnExit();
        file.toFile().deleteOnExit();
        int port = Caravan.freePort();
        System.setProperty("faults.port", String.valueOf(port));
        Settings settings = Settings.load().with("caravan.catalog", file.toString())
                .with("caravan.http.port", String.valueOf(port))
                // no broker here: the usage events of streamed answers give up at once
                .with("camel.component.kafka.max-block-ms", "100");
        return new CaravanApp(settings, CatalogLoader.load(file, Map.of()), null).start();
    }

    static void run(HttpClient http, ExecutorService callers, int port, String scenario, boolean stream,
            int concurrency, MemoryMXBean memory) throws Exception {
        System.gc();
        AtomicLong peak = new AtomicLong(memory.getHeapMemoryUsage().getUsed());
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peak.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        sampler.setDaemon(true);
        sampler.start();
        List<Future<String>> calls = new ArrayList<>();
        AtomicLong slowest = new AtomicLong();
        for (int i = 0; i < concurrency; i++) {
            String id = scenario + "-" + i + "-" + System.nanoTime();
            calls.add(callers.submit(() -> {
                long start = System.nanoTime();
                try {
                    return stream ? stream(http, port, scenario) : task(http, port, scenario, id);
                } finally {
                    slowest.accumulateAndGet((System.nanoTime() - start) / 1_000_000, Math::max);
                }
            }));
        }
        Map<String, Integer> outcomes = new TreeMap<>();
        for (Future<String> call : calls) {
            String outcome;
            try {
                outcome = call.get();
            } catch (Exception e) {
                outcome = "failed: " + e.getCause();
            }
            outcomes.merge(outcome, 1, Integer::sum);
        }
        sampler.interrupt();
        System.out.printf("%-9s %-7s %-38s %9d %13d%n", scenario, stream ? "stream" : "task", outcomes, slowest.get(),
                peak.get() >> 20);
    }

    /** "first attempt's outcome -> task status" of a /v1/tasks call. */
    static String task(HttpClient http, int port, String scenario, String id) throws Exception {
        String timeout = scenario.equals("drip") ? "3000" : "120000";
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/tasks"))
                .timeout(Duration.ofMinutes(5)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"id\":\"" + id + "\",\"model\":\"" + scenario
                        + "\",\"prompt\":\"hello\",\"timeout_ms\":" + timeout + "}"))
                .build(), HttpResponse.BodyHandlers.ofString());
        JsonNode result = Json.MAPPER.readTree(response.body());
        String first = result.path("attempts").path(0).path("outcome").asText();
        String end = result.path("status").asText().equals("ok") ? "ok via " + result.path("provider").asText()
                : result.path("error").path("type").asText();
        return first + " -> " + end;
    }

    /** "rescued" for a stream answered by the fallback, else the code of its error event. */
    static String stream(HttpClient http, int port, String scenario) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                .timeout(Duration.ofMinutes(5)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + scenario
                        + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
                .build(), HttpResponse.BodyHandlers.ofString());
        String body = response.body();
        if (body.contains("data: [DONE]")) {
            return body.contains("\"res\"") ? "fell back, streamed ok" : "streamed ok";
        }
        int at = body.lastIndexOf("\"code\":\"");
        return at < 0 ? "status " + response.statusCode()
                : "error event " + body.substring(at + 8, body.indexOf('"', at + 8));
    }
}
