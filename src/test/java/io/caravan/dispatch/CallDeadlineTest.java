package io.caravan.dispatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.Caravan;
import io.caravan.support.HostileUpstream;
import io.caravan.support.TestCatalog;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Deadlines bound the whole provider call, not each read (issue 13, point 8): an upstream that keeps every read
 * alive but never finishes is cut at the task's remaining time or the provider's timeout, whichever comes first,
 * with outcome {@code timeout}, and its connection is dropped.
 */
class CallDeadlineTest {

    static HostileUpstream upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = new HostileUpstream();
        String base = "http://127.0.0.1:" + upstream.port() + "/";
        String catalog = TestCatalog.create()
                .openAi("drip", base + "drip/v1", "timeout: 30s", "retries: 2")
                .openAi("silent", base + "silent/v1", "timeout: 30s", "retries: 2")
                .openAi("ping", base + "ping/v1", "timeout: 1500ms")
                .openAi("okstream", base + "okstream/v1", "timeout: 10s", "retries: 2")
                .model("drip", "drip", "m")
                .model("silent", "silent", "m")
                .model("ping", "ping", "m")
                .model("rescuestream", "okstream", "m")
                .block("fallbacks:\n  ping: [rescuestream]\n")
                .yaml();
        caravan = Caravan.start(catalog, Map.of(), Map.of());
    }

    @AfterAll
    static void stop() throws Exception {
        if (caravan != null) {
            caravan.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void aDrippingProviderIsCutAtTheTasksDeadline() throws Exception {
        long start = System.nanoTime();
        HttpResponse<String> response = caravan.post("/v1/tasks",
                "{\"id\":\"drip-1\",\"model\":\"drip\",\"prompt\":\"hello\",\"timeout_ms\":3000}");
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(504);
        JsonNode result = Json.MAPPER.readTree(response.body());
        assertThat(result.path("error").path("type").asText()).isEqualTo("timeout");
        assertThat(ProviderAnswerBoundsTest.attempts(result)).containsExactly(tuple("drip#0", "timeout", null));
        // each byte came well within the read timeout (30 s): only a deadline on the whole call ends it
        assertThat(took).isLessThan(Duration.ofSeconds(10));
        await().atMost(Duration.ofSeconds(5)).until(() -> upstream.closedByCaravan.contains("drip"));
    }

    @Test
    void aProviderThatNeverAnswersIsCutAtTheTasksDeadline() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks",
                "{\"id\":\"silent-1\",\"model\":\"silent\",\"prompt\":\"hello\",\"timeout_ms\":2000}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(504);
        JsonNode result = Json.MAPPER.readTree(response.body());
        assertThat(ProviderAnswerBoundsTest.attempts(result)).containsExactly(tuple("silent#0", "timeout", null));
        assertThat(result.path("attempts").get(0).path("latency_ms").asLong()).isLessThan(10_000);
        await().atMost(Duration.ofSeconds(5)).until(() -> upstream.closedByCaravan.contains("silent"));
    }

    @Test
    void aStreamThatNeverSendsItsFirstEventIsCutAtTheProviderTimeoutAndFallsBack() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/chat/completions",
                "{\"model\":\"ping\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(response.statusCode()).isEqualTo(200);
        List<String> events = io.caravan.support.ChatStream.events(response.body());
        assertThat(io.caravan.support.ChatStream.text(events)).isEqualTo("rescued");
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        assertThat(ProviderAnswerBoundsTest.usage(caravan, ProviderAnswerBoundsTest.taskId(events), 2)).containsExactly(
                tuple("ping#0", "timeout"),
                tuple("rescuestream#0", "ok"));
        await().atMost(Duration.ofSeconds(5)).until(() -> upstream.closedByCaravan.contains("ping"));
    }
}
