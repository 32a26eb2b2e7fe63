package io.caravan.bench;

import io.caravan.support.BatchUpstream;
import io.caravan.support.Caravan;
import io.caravan.support.CaravanProcess;
import io.caravan.support.TestKafka;
import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The batch tier's figures (docs/batch.md), against the test provider on 127.0.0.1 that plays the OpenAI Batch API:
 * <ol>
 *   <li>cost: the same workload ({@code batch.tasks}, default 1,000) online and with a deadline, summed from the usage
 *       events;</li>
 *   <li>capacity: a Caravan in a child JVM at {@code -Xmx256m} takes {@code batch.waiting} tasks (default 100,000)
 *       into open batches that never finish; its heap after a full GC before and after, its CPU per task.</li>
 * </ol>
 * Bounded: every wait has a time limit; all traffic stays on 127.0.0.1.
 */
public final class BatchBench {

    public static void main(String[] args) throws Exception {
        int tasks = Integer.getInteger("batch.tasks", 1000);
        int waiting = Integer.getInteger("batch.waiting", 100_000);
        String legs = System.getProperty("batch.legs", "cost,capacity");
        TestKafka.bootstrapServers();
        try (BatchUpstream upstream = new BatchUpstream()) {
            if (legs.contains("cost")) {
                cost(upstream, tasks);
            }
            if (legs.contains("capacity")) {
                capacity(upstream, waiting);
            }
        }
        System.exit(0);
    }

    static String catalog(BatchUpstream upstream, String collect, String maxRequests) {
        return """
                providers:
                  kimi:
                    api: openai
                    base_url: %s
                    api_keys: ["sk-bench-key"]
                    retries: 0
                    batch: {collect: %s, poll: 200ms, min_slack: 1h, max_requests: %s}
                models:
                  - name: kimi-k2
                    provider: kimi
                    model: kimi-k2
                    price: {input: 0.60, output: 2.50}
                    batch_discount: 0.5
                tiers:
                  balanced: {model: kimi-k2}
                default_tier: balanced
                """.formatted(upstream.baseUrl(), collect, maxRequests);
    }

    static void cost(BatchUpstream upstream, int tasks) throws Exception {
        upstream.mode(BatchUpstream.Mode.COMPLETE);
        String prefix = Caravan.newPrefix();
        Map<String, String> settings = Map.of("caravan.topics.batches", prefix + ".batches", "caravan.batch.tick",
                "100ms", "caravan.fleet.share", "false");
        try (Caravan caravan = Caravan.start(catalog(upstream, "2s", "50000"), Map.of(), settings, prefix)) {
            double online = run(caravan, "on-", tasks, "");
            long t0 = System.nanoTime();
            double batch = run(caravan, "dl-", tasks, ",\"max_delay\":\"24h\"");
            System.out.printf(Locale.ROOT, "cost: %d tasks online %.6f USD, with a deadline %.6f USD: %.3fx "
                    + "(batch leg %.1f s end to end, %d provider batches)%n", tasks, online, batch, batch / online,
                    (System.nanoTime() - t0) / 1e9, upstream.creates.get());
        }
    }

    /** Sends the tasks and returns the cost summed from their usage events. */
    static double run(Caravan caravan, String idPrefix, int n, String extra) throws Exception {
        List<String> ids = new ArrayList<>();
        try (var producer = TestKafka.producer()) {
            for (int i = 0; i < n; i++) {
                String id = idPrefix + i;
                ids.add(id);
                producer.send(new ProducerRecord<>(caravan.tasksTopic, id, ("{\"id\":\"" + id
                        + "\",\"prompt\":\"Classify record " + i + "\"" + extra + "}").getBytes(StandardCharsets.UTF_8)));
            }
        }
        // each task's result carries the cost of all its attempts (the sum of its usage events)
        List<ConsumerRecord<String, byte[]>> results = TestKafka.readKeys(caravan.resultsTopic, ids,
                Duration.ofMinutes(5));
        Map<String, Double> byTask = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : results) {
            if (r.key() != null && r.key().startsWith(idPrefix)) {
                JsonNode result = Json.MAPPER.readTree(r.value());
                if (!"ok".equals(result.path("status").asText())) {
                    System.out.printf("cost: %s ended %s%n", r.key(), result.at("/error/type").asText());
                }
                byTask.put(r.key(), result.at("/usage/cost_usd").asDouble());
            }
        }
        if (byTask.size() < n) {
            System.out.printf("cost: only %d of %d results read%n", byTask.size(), n);
        }
        return byTask.values().stream().mapToDouble(Double::doubleValue).sum();
    }

    static void capacity(BatchUpstream upstream, int waiting) throws Exception {
        upstream.mode(BatchUpstream.Mode.NEVER);
        String prefix = Caravan.newPrefix();
        Map<String, String> settings = new HashMap<>();
        settings.put("caravan.topics.batches", prefix + ".batches");
        settings.put("caravan.batch.tick", "500ms");
        settings.put("caravan.fleet.share", "false");
        settings.put("caravan.batch.max-open-tasks", String.valueOf(waiting * 2));
        CaravanProcess child = CaravanProcess.start(catalog(upstream, "5s", "50000"), prefix, settings,
                ProcessHandle.current().info().command().orElse("java"),
                List.of("-Xmx256m", "-XX:+UseSerialGC"));
        try {
            CaravanProcess.awaitGroupMembers(prefix + "-group", 1, Duration.ofMinutes(3));
            long pid = child.process.pid();
            long heapBefore = heapAfterGc(pid);
            Duration cpuBefore = child.process.info().totalCpuDuration().orElse(Duration.ZERO);
            long t0 = System.nanoTime();
            try (var producer = TestKafka.producer()) {
                for (int i = 0; i < waiting; i++) {
                    String id = "w-" + i;
                    producer.send(new ProducerRecord<>(prefix + ".tasks", id, ("{\"id\":\"" + id
                            + "\",\"prompt\":\"Summarise ticket " + i + " for the weekly digest\",\"max_delay\":\"24h\"}")
                            .getBytes(StandardCharsets.UTF_8)));
                }
            }
            long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
            while (upstream.batchedRequests() < waiting && System.nanoTime() < deadline && child.process.isAlive()) {
                Thread.sleep(500);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            Duration cpu = child.process.info().totalCpuDuration().orElse(Duration.ZERO).minus(cpuBefore);
            long heapAfter = child.process.isAlive() ? heapAfterGc(pid) : -1;
            System.out.printf(Locale.ROOT, "capacity: %d of %d tasks waiting in %d open batches after %.1f s, child "
                    + "-Xmx256m alive=%s; heap after full GC %d MiB -> %d MiB (%.0f bytes per waiting task); CPU %.3f ms"
                    + " per task%n", upstream.batchedRequests(), waiting, upstream.creates.get(), seconds,
                    child.process.isAlive(), heapBefore >> 20, heapAfter >> 20,
                    (heapAfter - heapBefore) / (double) Math.max(1, upstream.batchedRequests()),
                    cpu.toNanos() / 1e6 / Math.max(1, waiting));
        } finally {
            child.close();
        }
    }

    /** Heap in use after a full GC, from jcmd. */
    static long heapAfterGc(long pid) throws Exception {
        new ProcessBuilder("jcmd", String.valueOf(pid), "GC.run").redirectErrorStream(true).start().waitFor();
        Process p = new ProcessBuilder("jcmd", String.valueOf(pid), "GC.heap_info").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        long used = 0;
        var m = java.util.regex.Pattern.compile("used (\\d+)K").matcher(out);
        while (m.find()) {
            used += Long.parseLong(m.group(1)) * 1024;
        }
        return used;
    }

    private static final class Locale {
        static final java.util.Locale ROOT = java.util.Locale.ROOT;
    }
}
