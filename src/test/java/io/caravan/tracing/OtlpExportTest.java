package io.caravan.tracing;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.opentelemetry.proto.trace.v1.Span;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Real OTLP over HTTP to a receiver on 127.0.0.1, configured the way a user does it (otel.* settings): the spans
 * of a Kafka task and of an HTTP task arrive in their callers' traces (with prompt and answer, opted in here), the
 * GenAI metrics arrive with the convention's buckets, and a Caravan with tracing off sends nothing even with an
 * endpoint configured.
 */
class OtlpExportTest {

    static final String KEY = "sk-otlp-secret-key-abcdef";
    static WireMockServer upstream;
    static OtlpReceiver receiver;
    static Caravan on;
    static Caravan off;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("flaky")))
                .willReturn(Upstreams.status(429, Upstreams.error("Rate limit reached", "rate_limit_error", null))));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("steady"))).willReturn(Upstreams.ok("steady answer")));
        receiver = new OtlpReceiver();
        String catalog = """
                providers:
                  flaky: {api: openai, base_url: "http://127.0.0.1:%1$d/flaky/v1", api_keys: ["%2$s"], retries: 0}
                  # the Kafka task's own way to the same 429: a key that the HTTP tasks' 429s have not put to rest
                  flaky-kafka: {api: openai, base_url: "http://127.0.0.1:%1$d/flaky/v1", api_keys: ["%2$s-k"], retries: 0}
                  steady: {api: openai, base_url: "http://127.0.0.1:%1$d/steady/v1", api_keys: ["%2$s"], retries: 0}
                models:
                  - {name: first, provider: flaky, model: flaky-model}
                  - {name: first-kafka, provider: flaky-kafka, model: flaky-model}
                  - {name: second, provider: steady, model: steady-model}
                fallbacks:
                  first: [second]
                  first-kafka: [second]
                tiers:
                  fast: {model: first}
                  kafka: {model: first-kafka}
                default_tier: fast
                """.formatted(upstream.port(), KEY);
        Map<String, String> otlp = Map.of(
                "otel.exporter.otlp.endpoint", receiver.endpoint(),
                "otel.bsp.schedule.delay", "100",
                "otel.metric.export.interval", "1000");
        java.util.HashMap<String, String> onSettings = new java.util.HashMap<>(otlp);
        onSettings.put("caravan.otel.enabled", "true");
        onSettings.put("caravan.otel.capture-content", "true");
        on = Caravan.start(catalog, Map.of(), onSettings);
        off = Caravan.start(catalog, Map.of(), otlp);
    }

    @AfterAll
    static void stop() throws Exception {
        on.close();
        off.close();
        receiver.close();
        upstream.stop();
    }

    @Test
    void aKafkaTaskArrivesAtTheCollectorInItsPublishersTraceAndTheResultContinuesIt() {
        String traceId = TaskTracingTest.newTraceId();
        TestKafka.send(on.tasksTopic, "otlp-k", "{\"id\":\"otlp-k\",\"tier\":\"kafka\",\"prompt\":\"hello\"}".getBytes(StandardCharsets.UTF_8),
                Map.of("traceparent", "00-" + traceId + "-a1b2c3d4e5f60718-01"));

        await().atMost(Duration.ofSeconds(60)).until(() -> receiver.inTrace(traceId).size() >= 3);
        List<Span> spans = receiver.inTrace(traceId);
        Span task = spans.stream().filter(s -> s.getName().equals("caravan task")).findFirst().orElseThrow();
        assertThat(OtlpReceiver.hex(task.getParentSpanId())).isEqualTo("a1b2c3d4e5f60718");
        assertThat(task.getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_CONSUMER);
        List<Span> attempts = spans.stream().filter(s -> s.getKind() == Span.SpanKind.SPAN_KIND_CLIENT)
                .sorted(Comparator.comparing(s -> Long.parseLong(OtlpReceiver.attribute(s, "caravan.attempt"))))
                .toList();
        assertThat(attempts).extracting(Span::getName).containsExactly("chat flaky-model", "chat steady-model");
        assertThat(attempts).allSatisfy(a -> {
            assertThat(a.getParentSpanId()).isEqualTo(task.getSpanId());
            assertThat(OtlpReceiver.attribute(a, "gen_ai.operation.name")).isEqualTo("chat");
            assertThat(OtlpReceiver.attribute(a, "server.port")).isEqualTo(Integer.toString(upstream.port()));
        });
        assertThat(OtlpReceiver.attribute(attempts.get(0), "error.type")).isEqualTo("rate_limited");
        assertThat(OtlpReceiver.attribute(attempts.get(1), "error.type")).isNull();
        assertThat(OtlpReceiver.attribute(attempts.get(1), "gen_ai.usage.output_tokens")).isEqualTo("5");
        // this Caravan opted in to prompts and answers on its spans
        assertThat(OtlpReceiver.attribute(attempts.get(1), "gen_ai.input.messages")).contains("\"content\":\"hello\"");
        assertThat(OtlpReceiver.attribute(attempts.get(1), "gen_ai.output.messages")).contains("steady answer");
        assertThat(OtlpReceiver.attribute(attempts.get(0), "gen_ai.output.messages")).isNull();
        spans.forEach(s -> assertThat(s.getAttributesList().toString()).doesNotContain(KEY));

        ConsumerRecord<String, byte[]> result = TestKafka.readKeys(on.resultsTopic, List.of("otlp-k"),
                Duration.ofSeconds(20)).stream().filter(r -> r.key().equals("otlp-k")).findFirst().orElseThrow();
        assertThat(new String(result.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8))
                .isEqualTo("00-" + traceId + "-" + OtlpReceiver.hex(task.getSpanId()) + "-01");
    }

    @Test
    void anHttpTaskArrivesInItsCallersTrace() throws Exception {
        String traceId = TaskTracingTest.newTraceId();
        HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + on.httpPort + "/v1/tasks"))
                .header("Content-Type", "application/json")
                .header("traceparent", "00-" + traceId + "-0102030405060708-01")
                .POST(HttpRequest.BodyPublishers.ofString("{\"id\":\"otlp-h\",\"prompt\":\"hi\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);

        await().atMost(Duration.ofSeconds(60)).until(() -> receiver.inTrace(traceId).size() >= 3);
        Span task = receiver.inTrace(traceId).stream().filter(s -> s.getName().equals("caravan task")).findFirst()
                .orElseThrow();
        assertThat(task.getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_SERVER);
        assertThat(OtlpReceiver.hex(task.getParentSpanId())).isEqualTo("0102030405060708");
    }

    @Test
    void theGenAiMetricsArriveWithTheConventionsBucketBoundaries() throws Exception {
        on.post("/v1/tasks", "{\"id\":\"otlp-m\",\"prompt\":\"hi\"}");
        await().atMost(Duration.ofSeconds(20)).until(() -> receiver.metrics.stream()
                .anyMatch(m -> m.getName().equals("gen_ai.client.token.usage"))
                && receiver.metrics.stream().anyMatch(m -> m.getName().equals("gen_ai.client.operation.duration")));
        var tokens = receiver.metrics.stream().filter(m -> m.getName().equals("gen_ai.client.token.usage"))
                .findFirst().orElseThrow();
        assertThat(tokens.getUnit()).isEqualTo("{token}");
        assertThat(tokens.getHistogram().getDataPoints(0).getExplicitBoundsList())
                .containsExactlyElementsOf(GenAiMetrics.TOKEN_BUCKETS.stream().map(Long::doubleValue).toList());
        var duration = receiver.metrics.stream().filter(m -> m.getName().equals("gen_ai.client.operation.duration"))
                .findFirst().orElseThrow();
        assertThat(duration.getUnit()).isEqualTo("s");
        assertThat(duration.getHistogram().getDataPoints(0).getExplicitBoundsList())
                .containsExactlyElementsOf(GenAiMetrics.SECOND_BUCKETS);
    }

    @Test
    void withTracingOffNothingIsExportedAndTheResultCarriesTheTaskRecordsOwnContext() throws Exception {
        assertThat(off.app().operations().tracing().enabled()).isFalse();
        String traceId = TaskTracingTest.newTraceId();
        String traceparent = "00-" + traceId + "-1234567890abcdef-01";
        TestKafka.send(off.tasksTopic, "off-k", "{\"id\":\"off-k\",\"prompt\":\"hello\"}".getBytes(StandardCharsets.UTF_8),
                Map.of("traceparent", traceparent));
        ConsumerRecord<String, byte[]> result = TestKafka.readKeys(off.resultsTopic, List.of("off-k"),
                Duration.ofSeconds(20)).stream().filter(r -> r.key().equals("off-k")).findFirst().orElseThrow();
        assertThat(new String(result.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8))
                .isEqualTo(traceparent);
        // the "on" Caravan exports every 100 ms; a second and a half is several of its rounds
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3))
                .until(() -> receiver.inTrace(traceId).isEmpty());
    }
}
