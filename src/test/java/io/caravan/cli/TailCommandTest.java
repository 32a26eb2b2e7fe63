package io.caravan.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.caravan.Settings;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@code caravan tail}: one compact line per result, usage event or dead letter; --json; from now or the start. */
class TailCommandTest {

    private final String prefix = Caravan.newPrefix();
    private final Settings settings = Settings.load().with("kafka.bootstrap-servers", TestKafka.bootstrapServers())
            .with("caravan.topics.results", prefix + ".results").with("caravan.topics.usage", prefix + ".usage")
            .with("caravan.topics.dlq", prefix + ".dlq");
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int tail(String... args) {
        return TailCommand.run(List.of(args), settings, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private List<String> lines() {
        return out.toString(StandardCharsets.UTF_8).lines().toList();
    }

    private static void send(String topic, String key, String value, Map<String, String> headers) {
        TestKafka.send(topic, key, value.getBytes(StandardCharsets.UTF_8), headers);
    }

    @Test
    void resultsFromTheBeginningOneCompactLineEach() {
        send(prefix + ".results", "r-1", """
                {"id":"r-1","status":"ok","tier":"fast","model":"demo","provider":"demo","fallback":true,
                 "usage":{"input_tokens":9,"output_tokens":20,"cost_usd":3.45E-5},"latency_ms":99,"error":null}""",
                Map.of());
        send(prefix + ".results", "r-2", """
                {"id":"r-2","status":"error","tier":"balanced","model":"kimi-k2","provider":null,"fallback":false,
                 "usage":{"cost_usd":0.0},"latency_ms":12,
                 "error":{"type":"all_deployments_failed","message":"every deployment failed\\u001b[2J"}}""", Map.of());
        send(prefix + ".results", "r-3", "not json at all", Map.of());

        assertThat(tail("results", "--from-beginning", "--max", "3")).isZero();

        assertThat(lines()).containsExactlyInAnyOrder(
                "r-1 ok tier=fast model=demo provider=demo cost=$0.000035 99ms fallback",
                "r-2 error tier=balanced model=kimi-k2 cost=$0.000000 12ms error=all_deployments_failed:"
                        + " every deployment failed?[2J",
                "key=r-3 (not a JSON object, 15 bytes)");
    }

    @Test
    void usageEventsAndDeadLetters() {
        send(prefix + ".usage", "u-1", """
                {"task_id":"u-1","attempt":1,"tier":"fast","deployment":"demo#0","provider":"demo","outcome":"ok",
                 "input_tokens":9,"output_tokens":20,"cost_usd":0.0000345,"latency_ms":23,
                 "metadata":{"tenant":"acme"}}""", Map.of());
        send(prefix + ".dlq", "d-1", "{not json", Map.of("caravan-error-type", "invalid_task",
                "caravan-error-message", "not JSON: Unexpected character"));

        assertThat(tail("usage", "--from-beginning", "--max", "1")).isZero();
        assertThat(tail("dlq", "--from-beginning", "--max", "1")).isZero();

        assertThat(lines()).containsExactly(
                "task=u-1 attempt=1 deployment=demo#0 outcome=ok cost=$0.000035 tokens=9/20 23ms tenant=acme",
                "key=d-1 error=invalid_task: not JSON: Unexpected character (9 bytes)");
    }

    @Test
    void jsonPrintsTheRawValue() {
        String value = "{\"task_id\":\"j-1\",\"outcome\":\"ok\"}";
        send(prefix + ".usage", "j-1", value, Map.of());
        assertThat(tail("usage", "--json", "--from-beginning", "--max", "1")).isZero();
        assertThat(lines()).containsExactly(value);
    }

    @Test
    void withoutFromBeginningOnlyWhatArrivesAfterTheStartIsPrinted() throws Exception {
        send(prefix + ".results", "old", "{\"id\":\"old\",\"status\":\"ok\"}", Map.of());
        CompletableFuture<Integer> status = CompletableFuture.supplyAsync(() -> tail("--max", "1"));
        AtomicInteger sent = new AtomicInteger();
        // tail gives no sign of having started: keep sending until it prints one
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(300)).until(() -> {
            int n = sent.incrementAndGet();
            send(prefix + ".results", "new-" + n, "{\"id\":\"new-" + n + "\",\"status\":\"ok\"}", Map.of());
            return status.isDone();
        });
        assertThat(status.get(5, TimeUnit.SECONDS)).isZero();
        assertThat(lines()).hasSize(1);
        assertThat(lines().get(0)).startsWith("new-").endsWith(" ok");
    }

    @Test
    void aMissingTopicOrABadArgumentIsOneLine() {
        assertThat(tail("results", "--topic", prefix + ".nowhere", "--max", "1")).isEqualTo(1);
        assertThat(tail("everything")).isEqualTo(2);
        assertThat(tail("results", "--max", "0")).isEqualTo(2);
        List<String> errors = err.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(errors).hasSize(3);
        assertThat(errors.get(0)).isEqualTo("caravan tail: no topic " + prefix + ".nowhere on "
                + TestKafka.bootstrapServers() + " (`caravan run` creates it at start-up)");
        assertThat(errors.get(1)).startsWith("caravan tail: unknown topic 'everything'");
        assertThat(out.size()).isZero();
    }
}
