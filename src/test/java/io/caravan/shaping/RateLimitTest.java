package io.caravan.shaping;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static io.caravan.shaping.Shaping.ok;
import static io.caravan.shaping.Shaping.outcomes;
import static io.caravan.shaping.Shaping.path;
import static io.caravan.shaping.Shaping.provider;
import static io.caravan.shaping.Shaping.received;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Client-side rpm/tpm limits per key. One Caravan keeps the production one-minute window (nothing refills during
 * the test, so the counts are exact); a second one has a one-second window to show tasks waiting for capacity.
 */
class RateLimitTest {

    static WireMockServer upstream;
    static Caravan minute;
    static Caravan second;

    static final String BIG_PROMPT = "x".repeat(2000); // about 500 tokens

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        for (String p : List.of("lim", "spill", "tpm", "tpmfix", "tpmspill", "downspill", "slowkey")) {
            upstream.stubFor(post(urlEqualTo(path(p))).willReturn(ok("from " + p, 10, 5)));
        }
        // the tpm provider reports what the estimate expected; tpmfix reports far less than the estimate
        upstream.stubFor(post(urlEqualTo(path("tpm"))).willReturn(ok("from tpm", 500, 100)));
        upstream.stubFor(post(urlEqualTo(path("tpmfix"))).willReturn(ok("from tpmfix", 10, 5)));
        upstream.stubFor(post(urlEqualTo(path("tpmdown"))).willReturn(aResponse().withStatus(503)
                .withHeader("Content-Type", "application/json")
                .withBody("{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}")));

        String catalog = "providers:\n"
                + provider(upstream, "lim", "\"k1\", \"k2\"", "rpm: 5")
                + provider(upstream, "spill", "\"s\"", "")
                + provider(upstream, "tpm", "\"t\"", "tpm: 1000")
                + provider(upstream, "tpmfix", "\"t\"", "tpm: 1000")
                + provider(upstream, "tpmspill", "\"t\"", "")
                + provider(upstream, "tpmdown", "\"t\"", "tpm: 1000")
                + provider(upstream, "downspill", "\"t\"", "")
                + """
                models:
                  - {name: burst, provider: lim, model: m, price: {input: 1, output: 1}}
                  - {name: spill, provider: spill, model: m, price: {input: 1, output: 1}}
                  - {name: tokens, provider: tpm, model: m, price: {input: 1, output: 1}}
                  - {name: tokspill, provider: tpmspill, model: m, price: {input: 1, output: 1}}
                  - {name: fixed, provider: tpmfix, model: m, price: {input: 1, output: 1}}
                  - {name: down, provider: tpmdown, model: m, price: {input: 1, output: 1}}
                  - {name: downspill, provider: downspill, model: m, price: {input: 1, output: 1}}
                fallbacks:
                  burst: [spill]
                  tokens: [tokspill]
                  down: [downspill]
                tiers:
                  balanced: {model: spill}
                """;
        // windows are aligned on the clock's minutes (the fleet counts the same window): keep the minute's tests
        // clear of a refill by starting them early in a minute
        await().atMost(Duration.ofSeconds(25)).pollInterval(Duration.ofMillis(100))
                .until(() -> System.currentTimeMillis() % 60_000 <= 40_000);
        minute = Caravan.start(catalog, Map.of(), Map.of());

        String waiting = "providers:\n"
                + provider(upstream, "slowkey", "\"w\"", "rpm: 2")
                + """
                models:
                  - {name: patient, provider: slowkey, model: m, price: {input: 1, output: 1}}
                tiers:
                  balanced: {model: patient}
                """;
        second = Caravan.start(waiting, Map.of(), Map.of("caravan.limits.window", "1s"));
    }

    @AfterAll
    static void stop() throws Exception {
        for (Caravan c : new Caravan[] {minute, second}) {
            if (c != null) {
                c.close();
            }
        }
        if (upstream != null) {
            upstream.stop();
        }
    }

    static List<JsonNode> burst(Caravan caravan, int n, String body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<JsonNode>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                futures.add(pool.submit(() -> Shaping.okTask(caravan, body)));
            }
            List<JsonNode> results = new ArrayList<>();
            for (Future<JsonNode> f : futures) {
                results.add(f.get());
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    static Map<String, Long> perKey(List<LoggedRequest> requests) {
        return requests.stream().collect(Collectors.groupingBy(r -> r.getHeader("Authorization"),
                Collectors.counting()));
    }

    @Test
    void aBurstOfTwentyNeverSendsMoreThanRpmPerKeyAndAllComplete() throws Exception {
        List<JsonNode> results = burst(minute, 20, "{\"model\":\"burst\",\"prompt\":\"hi\",\"timeout_ms\":10000}");

        assertThat(results).hasSize(20);
        Map<String, Long> keys = perKey(received(upstream, "lim"));
        assertThat(keys).containsOnlyKeys("Bearer k1", "Bearer k2");
        assertThat(keys.values()).allSatisfy(n -> assertThat(n).isEqualTo(5));
        assertThat(received(upstream, "spill")).hasSize(10);
        // the overflow was skipped without a call: status null, outcome rate_limited, then the fallback answered
        long skipped = results.stream().filter(r -> outcomes(r).equals(List.of("burst#0 rate_limited", "spill#0 ok")))
                .count();
        assertThat(skipped).isEqualTo(10);
        results.stream().filter(r -> r.path("attempts").size() == 2).forEach(r ->
                assertThat(r.path("attempts").get(0).path("status").isNull()).isTrue());
    }

    @Test
    void tpmCountsPromptAndMaxTokensBeforeTheCall() throws Exception {
        String body = "{\"model\":\"tokens\",\"prompt\":\"" + BIG_PROMPT + "\",\"params\":{\"max_tokens\":100},"
                + "\"timeout_ms\":10000}";
        // about 604 tokens each against a tpm of 1000: the first fits, the rest go to the other deployment
        for (int i = 0; i < 4; i++) {
            Shaping.okTask(minute, body);
        }
        assertThat(received(upstream, "tpm")).hasSize(1);
        assertThat(received(upstream, "tpmspill")).hasSize(3);
    }

    @Test
    void theEstimateIsCorrectedFromTheResponseUsage() throws Exception {
        String body = "{\"model\":\"fixed\",\"prompt\":\"" + BIG_PROMPT + "\",\"params\":{\"max_tokens\":100},"
                + "\"timeout_ms\":10000}";
        // each call is counted at about 604 tokens, then at the 15 the provider reported: five in a row fit
        for (int i = 0; i < 5; i++) {
            JsonNode result = Shaping.okTask(minute, body);
            assertThat(outcomes(result)).containsExactly("fixed#0 ok");
        }
        assertThat(received(upstream, "tpmfix")).hasSize(5);
    }

    @Test
    void aFailedCallGivesItsTokensBack() throws Exception {
        String body = "{\"model\":\"down\",\"prompt\":\"" + BIG_PROMPT + "\",\"params\":{\"max_tokens\":100},"
                + "\"timeout_ms\":10000}";
        // about 604 tokens against a tpm of 1000: were a refused call's tokens kept, the second task would skip
        // the deployment as rate limited without calling it
        for (int i = 0; i < 3; i++) {
            assertThat(outcomes(Shaping.okTask(minute, body))).containsExactly("down#0 server_error", "downspill#0 ok");
        }
        assertThat(received(upstream, "tpmdown")).hasSize(3);
    }

    @Test
    void whenNoKeyHasCapacityTheTaskWaitsAndTheWaitIsAnAttemptNotAFailure() throws Exception {
        List<JsonNode> results = burst(second, 5, "{\"model\":\"patient\",\"prompt\":\"hi\",\"timeout_ms\":15000}");

        assertThat(results).allSatisfy(r -> assertThat(outcomes(r)).last().isEqualTo("patient#0 ok"));
        List<JsonNode> waited = results.stream()
                .filter(r -> outcomes(r).contains("patient#0 waited")).toList();
        assertThat(waited).isNotEmpty();
        JsonNode wait = null;
        for (JsonNode a : waited.get(0).path("attempts")) {
            if (a.path("outcome").asText().equals("waited")) {
                wait = a;
            }
        }
        assertThat(wait.path("status").isNull()).isTrue();
        assertThat(wait.path("latency_ms").asLong()).isPositive();
        assertThat(waited.get(0).path("error").isNull()).isTrue();
        // never more than 2 calls inside one window of the key (windows are aligned on the clock's seconds, the
        // same on every instance of a fleet)
        List<Long> times = received(upstream, "slowkey").stream()
                .map(r -> r.getLoggedDate().getTime()).sorted().toList();
        assertThat(times).hasSize(5);
        assertThat(times.stream().collect(Collectors.groupingBy(t -> t / 1_000, Collectors.counting())).values())
                .allMatch(n -> n <= 2);
    }
}
