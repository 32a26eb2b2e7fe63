package io.caravan.resilience;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.Caravan;
import io.caravan.support.FleetRig;
import io.caravan.support.LimitedProvider;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Three Caravans in one consumer group share one key's limit, its cooldowns and the provider's headroom through
 * the usage topic, against a provider on 127.0.0.1 that enforces N requests per window per key the way providers
 * do (429 with Retry-After above it, headroom headers on every answer). Windows are 2 s instead of a minute
 * ({@code caravan.limits.window}).
 */
class FleetTest {

    static final String KEY = "sk-kimi-one-0123456789";
    static final String SPARE = "sk-kimi-two-0123456789";
    static final int N = 10;
    /** The documented lag slack: what peers may send on a key before their calls are seen (docs/fleet.md). */
    static final int SLACK = 2;

    static String catalog(LimitedProvider provider, String keys, String limits) {
        return "providers:\n" + provider.provider("kimi", keys, limits) + """
                models:
                  - {name: kimi, provider: kimi, model: kimi-k2, price: {input: 1, output: 1}}
                tiers:
                  balanced: {model: kimi}
                """;
    }

    static void awaitFleetOf(FleetRig rig, int size) {
        await().atMost(Duration.ofSeconds(20)).until(() -> rig.instances.stream()
                .allMatch(c -> c.app().fleet().liveInstances() == size && !c.app().fleet().lagging()));
    }

    @Test
    void threeInstancesTogetherKeepOneKeysLimit() throws Exception {
        try (LimitedProvider provider = new LimitedProvider(N, 2_000, 20);
                FleetRig rig = new FleetRig(3, 6, catalog(provider, "\"" + KEY + "\"", "rpm: " + N),
                        Map.of("caravan.limits.window", "2s", "caravan.max-in-flight", "64"))) {
            awaitFleetOf(rig, 3);
            // the JVM's first use of the call path (classes loaded under one lock by all three Caravans) took 1-2 s on
            // a loaded machine: calls counted in one 2 s window then reached the provider in the next on top of its own
            for (Caravan c : rig.instances) {
                assertThat(c.post("/v1/tasks", "{\"model\":\"kimi\",\"prompt\":\"warm up\"}").body()).contains("\"ok\"");
            }
            int tasks = 10 * N;
            rig.produce("lim-", tasks, "kimi");
            Map<String, JsonNode> results = rig.results(tasks, Duration.ofSeconds(90));

            Map<Long, Integer> perWindow = provider.sentPerWindow(KEY);
            long ok = results.values().stream().filter(r -> r.path("status").asText().equals("ok")).count();
            System.out.println("fleet of 3, " + N + " per window: sent per window " + perWindow.values()
                    + ", provider 429s " + provider.count(429) + ", tasks ok " + ok + "/" + tasks);
            results.values().stream().filter(r -> !r.path("status").asText().equals("ok")).limit(3)
                    .forEach(r -> System.out.println("not ok: " + r));
            assertThat(results).hasSize(tasks);
            assertThat(ok).isEqualTo(tasks);
            assertThat(Collections.max(perWindow.values())).isLessThanOrEqualTo(N + SLACK);
            assertThat(provider.count(429)).isLessThanOrEqualTo(SLACK * perWindow.size());
            // each instance did its part: the limit was shared, not taken by one
            for (Caravan c : rig.instances) {
                assertThat(c.app().inFlight().admitted()).isPositive();
            }
        }
    }

    @Test
    void aKeyOneInstanceFindsOutOfCreditRestsOnTheOthersWithinASecond() throws Exception {
        try (LimitedProvider provider = new LimitedProvider(1_000, 60_000, 5);
                FleetRig rig = new FleetRig(3, 3, catalog(provider, "\"" + KEY + "\", \"" + SPARE + "\"", ""),
                        Map.of())) {
            awaitFleetOf(rig, 3);
            provider.outOfCredit(KEY);
            Caravan a = rig.instances.get(0);
            JsonNode result = io.caravan.util.Json.MAPPER.readTree(a.post("/v1/tasks",
                    "{\"model\":\"kimi\",\"prompt\":\"hello\"}").body());
            assertThat(result.path("status").asText()).as(result.toString()).isEqualTo("ok");
            long refusedAt = provider.seen().stream().filter(s -> s.status() == 402).findFirst().orElseThrow().atMillis();
            for (Caravan peer : rig.instances.subList(1, 3)) {
                await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(5))
                        .until(() -> coolingMs(peer, 0) > 0);
                long delay = System.currentTimeMillis() - refusedAt;
                System.out.println("cooldown reached " + peer.app().instanceId() + " " + delay + " ms after the 402");
                assertThat(delay).isLessThanOrEqualTo(1_000);
                assertThat(coolingMs(peer, 0)).isGreaterThan(Duration.ofMinutes(5).toMillis());
                assertThat(coolingMs(peer, 1)).isZero();
            }
            // and the others then answer on the spare key only, without another 402
            for (Caravan peer : rig.instances.subList(1, 3)) {
                for (int i = 0; i < 3; i++) {
                    JsonNode r = io.caravan.util.Json.MAPPER.readTree(peer.post("/v1/tasks",
                            "{\"model\":\"kimi\",\"prompt\":\"hello\"}").body());
                    assertThat(r.path("status").asText()).isEqualTo("ok");
                    assertThat(r.path("attempts")).hasSize(1);
                }
            }
            assertThat(provider.count(402)).isEqualTo(1);
        }
    }

    @Test
    void theProvidersHeadroomWinsOverAHigherCatalogRpm() throws Exception {
        int enforced = 4;
        try (LimitedProvider provider = new LimitedProvider(enforced, 2_000, 20);
                FleetRig rig = new FleetRig(3, 3, catalog(provider, "\"" + KEY + "\"", "rpm: 100"),
                        Map.of("caravan.limits.window", "2s"))) {
            awaitFleetOf(rig, 3);
            Caravan first = rig.instances.get(0);
            first.post("/v1/tasks", "{\"model\":\"kimi\",\"prompt\":\"warm up\"}");
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                List<Future<JsonNode>> answers = new ArrayList<>();
                for (int i = 0; i < 24; i++) {
                    Caravan c = rig.instances.get(i % 3);
                    answers.add(pool.submit(() -> io.caravan.util.Json.MAPPER.readTree(
                            c.post("/v1/tasks", "{\"model\":\"kimi\",\"prompt\":\"hello\"}").body())));
                }
                for (Future<JsonNode> f : answers) {
                    assertThat(f.get().path("status").asText()).isEqualTo("ok");
                }
            } finally {
                pool.shutdownNow();
            }
            Map<Long, Integer> perWindow = provider.sentPerWindow(KEY);
            System.out.println("headroom " + enforced + " per window under rpm 100: sent per window "
                    + perWindow.values() + ", provider 429s " + provider.count(429));
            // without the headroom the catalog's rpm would let about a hundred calls a window through
            assertThat(provider.count(429)).isLessThanOrEqualTo(perWindow.size());
            assertThat(Collections.max(perWindow.values())).isLessThanOrEqualTo(enforced + SLACK);
        }
    }

    static long coolingMs(Caravan c, int key) {
        Long until = c.app().keys().coolingUntil("kimi", key);
        return until == null ? 0 : Math.max(0, (until - System.nanoTime()) / 1_000_000L);
    }
}
