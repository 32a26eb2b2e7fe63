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
 * Real OTLP over gRPC (HTTP/2 without TLS, as to a collector's 4317) to a receiver on 127.0.0.1, configured the
 * standard way: protocol {@code grpc}, an endpoint and a header. A Kafka task's spans (the task and one call per
 * attempt of a fallback) and the GenAI metrics arrive as gRPC export calls carrying the header.
 */
class OtlpGrpcExportTest {

    static final String KEY = "sk-grpc-secret-key-abcdef";
    static WireMockServer upstream;
    static OtlpReceiver receiver;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("down")))
                .willReturn(Upstreams.status(500, Upstreams.error("upstream broke", "server_error", null))));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("up"))).willReturn(Upstreams.ok("grpc answer")));
        receiver = OtlpReceiver.grpc();
        String catalog = """
                providers:
                  down: {api: openai, base_url: "http://127.0.0.1:%1$d/down/v1", api_keys: ["%2$s"], retries: 0}
                  up: {api: openai, base_url: "http://127.0.0.1:%1$d/up/v1", api_keys: ["%2$s"], retries: 0}
                models:
                  - {name: first, provider: down, model: down-model}
                  - {name: second, provider: up, model: up-model}
                fallbacks:
                  first: [second]
                tiers:
                  fast: {model: first}
                default_tier: fast
                """.formatted(upstream.port(), KEY);
        caravan = Caravan.start(catalog, Map.of(), Map.of(
                "caravan.otel.enabled", "true",
                "otel.exporter.otlp.protocol", "grpc",
                "otel.exporter.otlp.endpoint", receiver.endpoint(),
                "otel.exporter.otlp.headers", "authorization=Bearer collector-token",
                "otel.bsp.schedule.delay", "100",
                "otel.metric.export.interval", "1000"));
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        receiver.close();
        upstream.stop();
    }

    @Test
    void aKafkaTasksSpansArriveOverGrpcInItsPublishersTrace() {
        String traceId = TaskTracingTest.newTraceId();
        TestKafka.send(caravan.tasksTopic, "grpc-k", "{\"id\":\"grpc-k\",\"prompt\":\"hello\"}".getBytes(StandardCharsets.UTF_8),
                Map.of("traceparent", "00-" + traceId + "-a1b2c3d4e5f60718-01"));

        await().atMost(Duration.ofSeconds(60)).until(() -> receiver.inTrace(traceId).size() >= 3);
        List<Span> spans = receiver.inTrace(traceId);
        Span task = spans.stream().filter(s -> s.getName().equals("caravan task")).findFirst().orElseThrow();
        assertThat(OtlpReceiver.hex(task.getParentSpanId())).isEqualTo("a1b2c3d4e5f60718");
        List<Span> calls = spans.stream().filter(s -> s.getKind() == Span.SpanKind.SPAN_KIND_CLIENT)
                .sorted(Comparator.comparing(s -> Long.parseLong(OtlpReceiver.attribute(s, "caravan.attempt"))))
                .toList();
        assertThat(calls).extracting(Span::getName).containsExactly("chat down-model", "chat up-model");
        assertThat(calls).allSatisfy(c -> assertThat(c.getParentSpanId()).isEqualTo(task.getSpanId()));
        assertThat(OtlpReceiver.attribute(calls.get(0), "error.type")).isEqualTo("server_error");
        assertThat(OtlpReceiver.attribute(calls.get(1), "gen_ai.usage.output_tokens")).isEqualTo("5");
        spans.forEach(s -> assertThat(s.getAttributesList().toString()).doesNotContain(KEY));

        // gRPC export calls, each with the configured header
        assertThat(receiver.requests).contains(OtlpReceiver.GRPC_TRACES).doesNotContain("/v1/traces");
        assertThat(receiver.headers).allSatisfy(h -> {
            assertThat(h).containsEntry("content-type", "application/grpc");
            assertThat(h).containsEntry("authorization", "Bearer collector-token");
        });

        ConsumerRecord<String, byte[]> result = TestKafka.readKeys(caravan.resultsTopic, List.of("grpc-k"),
                Duration.ofSeconds(20)).stream().filter(r -> r.key().equals("grpc-k")).findFirst().orElseThrow();
        assertThat(new String(result.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8))
                .isEqualTo("00-" + traceId + "-" + OtlpReceiver.hex(task.getSpanId()) + "-01");
    }

    @Test
    void theGenAiMetricsArriveOverGrpc() throws Exception {
        caravan.post("/v1/tasks", "{\"id\":\"grpc-m\",\"prompt\":\"hi\"}");
        await().atMost(Duration.ofSeconds(20)).until(() -> receiver.metrics.stream()
                .anyMatch(m -> m.getName().equals("gen_ai.client.token.usage")));
        assertThat(receiver.requests).contains(OtlpReceiver.GRPC_METRICS).doesNotContain("/v1/metrics");
        var duration = receiver.metrics.stream().filter(m -> m.getName().equals("gen_ai.client.operation.duration"))
                .findFirst().orElseThrow();
        assertThat(duration.getHistogram().getDataPoints(0).getExplicitBoundsList())
                .containsExactlyElementsOf(GenAiMetrics.SECOND_BUCKETS);
    }
}
