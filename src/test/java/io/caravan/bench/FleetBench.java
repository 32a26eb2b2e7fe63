package io.caravan.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.Caravan;
import io.caravan.support.FleetRig;
import io.caravan.support.LimitedProvider;
import io.caravan.support.TestKafka;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The fleet's benchmark (bench/fleet.sh, on demand): three Caravans in one consumer group (this JVM, the in-JVM
 * broker) against a 127.0.0.1 provider enforcing {@code fleet.limit} requests per {@code fleet.window} on one key.
 * Legs: (1) today's per-instance limits (sharing off, the catalog's full rpm on each instance), (2) today's advice
 * (sharing off, rpm divided by hand), (3) shared limits; each sends {@code fleet.tasks} tasks through Kafka and
 * reports the provider's 429s per 1,000 tasks and the accepted requests per window as a share of the limit.
 * (4) the propagation delay of a key cooldown: a key goes out of credit, one instance meets the 402, and the time
 * until each other instance rests the key is measured.
 */
public final class FleetBench {

    static final String KEY = "sk-bench-0123456789";

    public static void main(String[] args) throws Exception {
        int limit = Integer.getInteger("fleet.limit", 600);
        long windowMs = Duration.parse("PT" + System.getProperty("fleet.window", "6s").toUpperCase(Locale.ROOT)).toMillis();
        int tasks = Integer.getInteger("fleet.tasks", 3000);
        int trials = Integer.getInteger("fleet.trials", 20);
        String legs = System.getProperty("fleet.legs", "per-instance,divided,shared,cooldown");
        TestKafka.bootstrapServers();
        System.out.printf("fleet bench: 3 instances, one key limited to %d requests per %d ms window, %d tasks%n",
                limit, windowMs, tasks);
        if (legs.contains("per-instance")) {
            limits("per-instance (today: full rpm on each, not shared)", limit, windowMs, tasks, limit, false);
        }
        if (legs.contains("divided")) {
            limits("per-instance (today's advice: rpm / 3 by hand)", limit, windowMs, tasks, limit / 3, false);
        }
        if (legs.contains("shared")) {
            limits("shared through the usage topic", limit, windowMs, tasks, limit, true);
        }
        if (legs.contains("cooldown")) {
            cooldown(trials);
        }
        System.exit(0);
    }

    static String catalog(LimitedProvider provider, String keys, String extra) {
        return "providers:\n" + provider.provider("kimi", keys, extra) + """
                models:
                  - {name: kimi, provider: kimi, model: kimi-k2, price: {input: 1, output: 1}}
                tiers:
                  balanced: {model: kimi}
                """;
    }

    static void limits(String leg, int limit, long windowMs, int tasks, int rpm, boolean share) throws Exception {
        try (LimitedProvider provider = new LimitedProvider(limit, windowMs, 20)) {
            if (!share) {
                provider.withoutHeadroom(); // today's Caravan does not read them
            }
            try (FleetRig rig = new FleetRig(3, 6, catalog(provider, "\"" + KEY + "\"", "rpm: " + rpm),
                    Map.of("caravan.limits.window", windowMs + "ms", "caravan.fleet.share", String.valueOf(share),
                            "caravan.task.default-timeout-ms", "600000"))) {
                // start at a window's start, so the first window is a whole one
                long now = System.currentTimeMillis();
                Thread.sleep(windowMs - Math.floorMod(now, windowMs) + 5);
                long started = System.currentTimeMillis();
                rig.produce("b-", tasks, "kimi");
                Map<String, JsonNode> results = rig.results(tasks, Duration.ofMinutes(15));
                long elapsed = System.currentTimeMillis() - started;
                long ok = results.values().stream().filter(r -> r.path("status").asText().equals("ok")).count();
                List<Integer> accepted = new ArrayList<>(provider.acceptedPerWindow(KEY).values());
                List<Integer> sent = new ArrayList<>(provider.sentPerWindow(KEY).values());
                // every window but the last (which only takes what is left) is a full one
                double used = accepted.size() <= 1 ? 1.0
                        : accepted.subList(0, accepted.size() - 1).stream().mapToInt(Integer::intValue).average()
                                .orElse(0) / limit;
                long refused = provider.count(429);
                // attempts by outcome: a circuit_open or connection outcome says the run measured something else
                Map<String, Long> outcomes = new java.util.TreeMap<>();
                results.values().forEach(r -> r.path("attempts").forEach(a -> outcomes.merge(a.path("outcome").asText(),
                        1L, Long::sum)));
                Map<String, Long> errors = new java.util.TreeMap<>();
                results.values().stream().filter(r -> !r.path("status").asText().equals("ok"))
                        .forEach(r -> errors.merge(r.path("error").path("type").asText(), 1L, Long::sum));
                System.out.printf(Locale.ROOT, "%-55s tasks ok %d/%d in %.1f s; provider 429s %d (%.1f per 1,000 tasks);"
                                + " accepted per window %.1f%% of the limit; max sent in a window %d; per window %s;"
                                + " errors %s; attempts %s%n",
                        leg, ok, tasks, elapsed / 1000.0, refused, refused * 1000.0 / tasks, used * 100,
                        Collections.max(sent), accepted, errors, outcomes);
            }
        }
    }

    static void cooldown(int trials) throws Exception {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < trials; i++) {
            keys.add(String.format("sk-bench-%02d-0123456789", i));
        }
        String list = String.join(", ", keys.stream().map(k -> "\"" + k + "\"").toList());
        try (LimitedProvider provider = new LimitedProvider(1_000_000, 60_000, 5);
                FleetRig rig = new FleetRig(3, 3, catalog(provider, list, ""), Map.of())) {
            while (rig.instances.stream().anyMatch(c -> c.app().fleet().liveInstances() < 3 || c.app().fleet().lagging())) {
                Thread.sleep(50);
            }
            Caravan a = rig.instances.get(0);
            List<Long> delays = new ArrayList<>();
            for (int i = 0; i < trials; i++) {
                String key = keys.get(i);
                provider.outOfCredit(key);
                long refusedAt = -1;
                for (int n = 0; n < 3 * trials && refusedAt < 0; n++) {
                    a.post("/v1/tasks", "{\"model\":\"kimi\",\"prompt\":\"hi\"}");
                    refusedAt = provider.seen().stream().filter(s -> s.status() == 402 && s.key().equals(key))
                            .mapToLong(LimitedProvider.Seen::atMillis).findFirst().orElse(-1);
                }
                if (refusedAt < 0) {
                    continue;
                }
                int index = i;
                for (Caravan peer : rig.instances.subList(1, 3)) {
                    long deadline = System.currentTimeMillis() + 10_000;
                    while (System.currentTimeMillis() < deadline) {
                        Long until = peer.app().keys().coolingUntil("kimi", index);
                        if (until != null && until - System.nanoTime() > 0) {
                            break;
                        }
                        Thread.onSpinWait();
                    }
                    delays.add(System.currentTimeMillis() - refusedAt);
                }
            }
            Collections.sort(delays);
            System.out.printf(Locale.ROOT, "key cooldown propagation (402 at the provider -> peer rests the key), %d "
                            + "samples: p50 %d ms, p99 %d ms, max %d ms%n", delays.size(), pct(delays, 0.50),
                    pct(delays, 0.99), delays.get(delays.size() - 1));
        }
    }

    static long pct(List<Long> sorted, double p) {
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1));
    }
}
