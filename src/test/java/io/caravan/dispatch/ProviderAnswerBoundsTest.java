package io.caravan.dispatch;

import static io.caravan.support.ChatStream.events;
import static io.caravan.support.ChatStream.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.Caravan;
import io.caravan.support.HostileUpstream;
import io.caravan.support.TestKafka;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Provider answers past their bounds (issue 13, point 3): each hostile answer fails its attempt as
 * {@code response_too_large} without a retry on the same deployment, its connection is dropped rather than read
 * to the end, and the task falls back and succeeds. The bounds are set small here; the answers are 8 MiB.
 */
class ProviderAnswerBoundsTest {

    static HostileUpstream upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = new HostileUpstream();
        StringBuilder catalog = new StringBuilder("providers:\n");
        provider(catalog, "ok", "");
        provider(catalog, "okstream", "");
        provider(catalog, "big", "max_response_bytes: 65536");
        provider(catalog, "chunked", ""); // the setting's bound: 256 KiB
        provider(catalog, "bomb", "max_response_bytes: 65536");
        provider(catalog, "sseline", "");
        provider(catalog, "sseevent", "");
        provider(catalog, "lateline", "");
        catalog.append("""
                models:
                  - {name: rescue, provider: ok, model: m, price: {input: 1, output: 1}}
                  - {name: rescuestream, provider: okstream, model: m, price: {input: 1, output: 1}}
                  - {name: big, provider: big, model: m, price: {input: 1, output: 1}}
                  - {name: chunked, provider: chunked, model: m, price: {input: 1, output: 1}}
                  - {name: bomb, provider: bomb, model: m, price: {input: 1, output: 1}}
                  - {name: sseline, provider: sseline, model: m, price: {input: 1, output: 1}}
                  - {name: sseevent, provider: sseevent, model: m, price: {input: 1, output: 1}}
                  - {name: lateline, provider: lateline, model: m, price: {input: 1, output: 1}}
                fallbacks:
                  big: [rescue]
                  chunked: [rescue]
                  bomb: [rescue]
                  sseline: [rescuestream]
                  sseevent: [rescuestream]
                tiers:
                  balanced: {model: rescue}
                default_tier: balanced
                """);
        caravan = Caravan.start(catalog.toString(), Map.of(), Map.of(
                "caravan.provider.max-response-bytes", "262144",
                "caravan.provider.max-sse-line-bytes", "16384",
                "caravan.provider.max-sse-event-bytes", "65536"));
    }

    static void provider(StringBuilder into, String name, String extra) {
        into.append("""
                  %1$s:
                    api: openai
                    base_url: http://127.0.0.1:%2$d/%1$s/v1
                    api_keys: ["k"]
                    timeout: 10s
                    retries: 2
                    backoff: 50ms
                    %3$s
                """.formatted(name, upstream.port(), extra));
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
    void anAnswerLargerThanItsProvidersBoundFallsBack() throws Exception {
        JsonNode result = task("big-1", "big");
        assertThat(attempts(result)).containsExactly(
                tuple("big#0", "response_too_large", 200),
                tuple("rescue#0", "ok", 200));
        assertThat(result.path("output").path("content").asText()).isEqualTo("rescued");
        assertThat(upstream.calls("big")).as("not retried on the same deployment").isEqualTo(1);
        assertThat(result.path("attempts").get(0).toString()).doesNotContain("rescued");
        await().atMost(Duration.ofSeconds(5)).until(() -> upstream.closedByCaravan.contains("big"));
    }

    @Test
    void anAnswerWithoutContentLengthIsBoundedByTheSetting() throws Exception {
        JsonNode result = task("chunked-1", "chunked");
        assertThat(attempts(result)).containsExactly(
                tuple("chunked#0", "response_too_large", 200),
                tuple("rescue#0", "ok", 200));
        await().atMost(Duration.ofSeconds(5)).until(() -> upstream.closedByCaravan.contains("chunked"));
    }

    @Test
    void aGzipBombIsCountedInflated() throws Exception {
        // a few KiB on the wire, under the 64 KiB bound; 8 MiB once the HTTP client inflated it
        JsonNode result = task("bomb-1", "bomb");
        assertThat(attempts(result)).containsExactly(
                tuple("bomb#0", "response_too_large", 200),
                tuple("rescue#0", "ok", 200));
        assertThat(result.path("output").path("content").asText()).isEqualTo("rescued");
    }

    @Test
    void anSseLineWithoutEndFallsBackBeforeTheFirstDelta() throws Exception {
        HttpResponse<String> response = stream("sseline");
        assertThat(response.statusCode()).isEqualTo(200);
        List<String> events = events(response.body());
        assertThat(text(events)).isEqualTo("rescued");
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        assertThat(usage(taskId(events), 2)).containsExactly(
                tuple("sseline#0", "response_too_large"),
                tuple("rescuestream#0", "ok"));
        assertThat(upstream.calls("sseline")).isEqualTo(1);
    }

    @Test
    void anSseEventWithoutEndFallsBackBeforeTheFirstDelta() throws Exception {
        HttpResponse<String> response = stream("sseevent");
        List<String> events = events(response.body());
        assertThat(text(events)).isEqualTo("rescued");
        assertThat(usage(taskId(events), 2)).containsExactly(
                tuple("sseevent#0", "response_too_large"),
                tuple("rescuestream#0", "ok"));
    }

    @Test
    void aStreamPastItsBoundAfterItsFirstDeltaEndsWithAnErrorEvent() throws Exception {
        HttpResponse<String> response = stream("lateline");
        assertThat(response.statusCode()).isEqualTo(200);
        List<String> events = events(response.body());
        assertThat(events).doesNotContain("[DONE]");
        assertThat(text(events.subList(0, events.size() - 1))).isEqualTo("half an ans");
        JsonNode last = Json.MAPPER.readTree(events.get(events.size() - 1));
        assertThat(last.path("error").path("code").asText()).isEqualTo("response_too_large");
        assertThat(usage(taskId(events), 1)).containsExactly(tuple("lateline#0", "response_too_large"));
        await().atMost(Duration.ofSeconds(5)).until(() -> upstream.closedByCaravan.contains("lateline"));
    }

    static JsonNode task(String id, String model) throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks",
                "{\"id\":\"" + id + "\",\"model\":\"" + model + "\",\"prompt\":\"hello\",\"timeout_ms\":20000}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return Json.MAPPER.readTree(response.body());
    }

    static HttpResponse<String> stream(String model) throws Exception {
        return caravan.post("/v1/chat/completions",
                "{\"model\":\"" + model + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    }

    /** [deployment, outcome, status] of each attempt of a task's result. */
    static List<Tuple> attempts(JsonNode result) {
        List<Tuple> out = new ArrayList<>();
        for (JsonNode a : result.path("attempts")) {
            out.add(tuple(a.path("deployment").asText(), a.path("outcome").asText(),
                    a.path("status").isNumber() ? a.path("status").asInt() : null));
        }
        return out;
    }

    static String taskId(List<String> events) throws Exception {
        return Json.MAPPER.readTree(events.get(0)).path("id").asText().substring("chatcmpl-".length());
    }

    /** [deployment, outcome] of the task's usage events (one per attempt), once {@code count} arrived. */
    static List<Tuple> usage(String taskId, int count) throws Exception {
        return usage(caravan, taskId, count);
    }

    static List<Tuple> usage(Caravan caravan, String taskId, int count) throws Exception {
        List<ConsumerRecord<String, byte[]>> records = TestKafka.readUntil(caravan.usageTopic,
                rs -> rs.stream().filter(r -> taskId.equals(r.key())).count() >= count, Duration.ofSeconds(30));
        List<Tuple> out = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : records) {
            if (taskId.equals(r.key())) {
                JsonNode event = Json.MAPPER.readTree(new String(r.value(), StandardCharsets.UTF_8));
                out.add(tuple(event.path("deployment").asText(), event.path("outcome").asText()));
            }
        }
        return out;
    }
}
