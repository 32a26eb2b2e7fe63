package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.Caravan;
import io.caravan.support.FleetRig;
import io.caravan.support.LimitedProvider;
import io.caravan.util.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * When an instance cannot read the usage topic in time it cannot see its peers' calls: it keeps to its local share
 * of each limit (limit ÷ live members), says so in /status and a metric, and shares again once the reader is back.
 */
class FleetLocalShareTest {

    static final String KEY = "sk-share-0123456789";

    @Test
    void anInstanceThatCannotReadTheTopicKeepsToItsShareThenSharesAgain() throws Exception {
        try (LimitedProvider provider = new LimitedProvider(1_000, 2_000, 5);
                FleetRig rig = new FleetRig(2, 2, "providers:\n" + provider.provider("kimi", "\"" + KEY + "\"", "rpm: 6")
                        + """
                        models:
                          - {name: kimi, provider: kimi, model: kimi-k2, price: {input: 1, output: 1}}
                        tiers:
                          balanced: {model: kimi}
                        """, Map.of("caravan.limits.window", "2s", "caravan.fleet.max-lag", "500ms",
                                "caravan.ledger.restart-backoff", "12s", "caravan.ledger.restart-backoff-max", "12s"))) {
            Caravan a = rig.instances.get(0);
            await().atMost(Duration.ofSeconds(20)).until(() -> a.app().fleet().liveInstances() == 2
                    && !a.app().fleet().lagging());
            assertThat(fleet(a).path("mode").asText()).isEqualTo("shared");

            // the reader fails; it is restarted only after the backoff, so the topic goes unread meanwhile. Waiting for
            // the fault itself: on a busy box a poll late by 500 ms can read as lagging for a moment before it
            long restarts = a.app().operations().ledger().restarts();
            a.app().operations().ledger().failOnce(new IllegalStateException("injected reader fault"));
            await().atMost(Duration.ofSeconds(5)).until(() -> a.app().operations().ledger().restarts() > restarts
                    && a.app().fleet().lagging());
            JsonNode status = fleet(a);
            assertThat(status.path("mode").asText()).isEqualTo("local_share");
            assertThat(status.path("reason").asText()).contains("lags by more than 500 ms");
            assertThat(status.path("keys").get(0).path("share_rpm").asInt()).isEqualTo(3);
            assertThat(a.get("/metrics").body()).containsPattern("caravan_fleet_local_share(\\{[^}]*\\})? 1\\.0");

            // while it lasts, this instance alone sends no more than its share (3 of 6) in any window
            long since = System.currentTimeMillis();
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<String>> answers = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    answers.add(pool.submit(() -> a.post("/v1/tasks", "{\"model\":\"kimi\",\"prompt\":\"hi\"}").body()));
                }
                for (Future<String> f : answers) {
                    assertThat(Json.MAPPER.readTree(f.get()).path("status").asText()).isEqualTo("ok");
                }
                assertThat(a.app().fleet().lagging()).isTrue();
                var perWindow = provider.seen().stream().filter(s -> s.atMillis() >= since)
                        .collect(java.util.stream.Collectors.groupingBy(s -> s.atMillis() - s.atMillis() % 2_000,
                                java.util.stream.Collectors.counting()));
                System.out.println("local share of 3 per window: sent per window " + perWindow.values());
                assertThat(perWindow.values()).allMatch(n -> n <= 3);
            } finally {
                pool.shutdownNow();
            }

            // the reader is back: shared limits again
            await().atMost(Duration.ofSeconds(20)).until(() -> !a.app().fleet().lagging());
            JsonNode shared = fleet(a);
            assertThat(shared.path("mode").asText()).isEqualTo("shared");
            // per key fingerprint: the fleet's use, the share, the provider's last headroom; never the key
            JsonNode key = shared.path("keys").get(0);
            assertThat(key.path("key_id").asText()).isEqualTo(io.caravan.resilience.KeyPool.fingerprint(KEY));
            assertThat(key.path("headroom").path("requests").asLong()).isPositive();
            assertThat(key.has("fleet_requests_this_window")).isTrue();
            assertThat(a.get("/status").body()).doesNotContain(KEY);
            assertThat(a.get("/metrics").body()).containsPattern("caravan_fleet_local_share(\\{[^}]*\\})? 0\\.0");
        }
    }

    static JsonNode fleet(Caravan c) throws Exception {
        return Json.MAPPER.readTree(c.get("/status").body()).path("fleet");
    }
}
