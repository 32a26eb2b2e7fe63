package io.caravan.tracing;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.accounting.PrometheusText;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.task.TaskContext;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.camel.builder.AdviceWith;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tracing on, spans kept by the SDK's in-memory exporter ({@link MemorySpans}): a task joins the trace its record
 * or request came with, each provider call is a {@code chat {model}} CLIENT child with the GenAI attributes, the
 * result record carries the task's context on, and no API key shows anywhere in a span.
 */
class TaskTracingTest {

    static final String DOWN_KEY = "sk-tracing-down-secret-0123456789";
    static final String UP_KEY = "sk-tracing-up-secret-9876543210";
    static WireMockServer upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("down")))
                .willReturn(Upstreams.status(503, Upstreams.error("overloaded", "server_error", null))));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("up"))).willReturn(Upstreams.ok("rescued")));
        int port = upstream.port();
        String catalog = """
                providers:
                  down: {api: openai, base_url: "http://127.0.0.1:%1$d/down/v1", api_keys: ["%2$s"], retries: 0}
                  up: {api: openai, base_url: "http://127.0.0.1:%1$d/up/v1", api_keys: ["%3$s"], retries: 0}
                  sim: {api: simulated, latency: 30ms, error_rate: 0}
                models:
                  - {name: chain, provider: down, model: down-model, price: {input: 1, output: 1}}
                  - {name: rescue, provider: up, model: up-model, price: {input: 1, output: 2}}
                  - {name: streamer, provider: sim, model: sim-model}
                fallbacks:
                  chain: [rescue]
                tiers:
                  fast: {model: chain}
                default_tier: fast
                """.formatted(port, DOWN_KEY, UP_KEY);
        caravan = Caravan.start(catalog, Map.of(), Map.of(
                "caravan.otel.enabled", "true",
                "otel.traces.exporter", "caravan-memory",
                "otel.metrics.exporter", "none",
                "otel.bsp.schedule.delay", "50"));
        // a task route that breaks after its provider call (tasks whose id starts "broke-"), as a bug in Caravan would
        AdviceWith.adviceWith(caravan.app().camelContext(), "task", route -> route
                .weaveByToUri("direct:dispatch").after()
                .process(exchange -> {
                    if (TaskContext.of(exchange).task().id().startsWith("broke-")) {
                        throw new IllegalStateException("simulated bug after the provider call");
                    }
                }));
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
    }

    static String newTraceId() {
        byte[] bytes = new byte[16];
        ThreadLocalRandom.current().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /** The task span and its children of this trace, once the task span is exported. */
    static List<SpanData> spansOf(String traceId, int attempts) {
        await().atMost(Duration.ofSeconds(60)).until(() -> MemorySpans.inTrace(traceId).size() >= attempts + 1);
        return MemorySpans.inTrace(traceId).stream().sorted(Comparator.comparing(SpanData::getStartEpochNanos)).toList();
    }

    static SpanData taskSpan(List<SpanData> spans) {
        return spans.stream().filter(s -> s.getName().equals("caravan task")).findFirst().orElseThrow();
    }

    static List<SpanData> attemptSpans(List<SpanData> spans) {
        return spans.stream().filter(s -> s.getKind() == SpanKind.CLIENT)
                .sorted(Comparator.comparing(s -> s.getAttributes().get(AttributeKey.longKey("caravan.attempt"))))
                .toList();
    }

    @Test
    void aKafkaTaskJoinsItsRecordsTraceWithOneChildPerAttemptAndItsResultCarriesTheTraceOn() {
        String traceId = newTraceId();
        String parentSpan = "00f067aa0ba902b7";
        TestKafka.send(caravan.tasksTopic, "k-trace", """
                {"id":"k-trace","prompt":"hello","params":{"max_tokens":64,"temperature":0.2,"top_p":0.9}}"""
                .getBytes(StandardCharsets.UTF_8), Map.of("traceparent", "00-" + traceId + "-" + parentSpan + "-01",
                "tracestate", "vendor=abc"));

        List<SpanData> spans = spansOf(traceId, 2);
        SpanData task = taskSpan(spans);
        assertThat(task.getKind()).isEqualTo(SpanKind.CONSUMER);
        assertThat(task.getParentSpanId()).isEqualTo(parentSpan);
        assertThat(task.getAttributes().get(AttributeKey.stringKey("caravan.task.id"))).isEqualTo("k-trace");
        assertThat(task.getAttributes().get(AttributeKey.stringKey("caravan.tier"))).isEqualTo("fast");
        assertThat(task.getAttributes().get(AttributeKey.stringKey("caravan.outcome"))).isEqualTo("ok");
        assertThat(task.getAttributes().get(AttributeKey.booleanKey("caravan.fallback"))).isTrue();

        List<SpanData> attempts = attemptSpans(spans);
        assertThat(attempts).extracting(SpanData::getName).containsExactly("chat down-model", "chat up-model");
        assertThat(attempts).allSatisfy(a -> {
            assertThat(a.getParentSpanId()).isEqualTo(task.getSpanId());
            assertThat(a.getAttributes().get(AttributeKey.stringKey("gen_ai.operation.name"))).isEqualTo("chat");
            assertThat(a.getAttributes().get(AttributeKey.stringKey("server.address"))).isEqualTo("127.0.0.1");
            assertThat(a.getAttributes().get(AttributeKey.longKey("server.port"))).isEqualTo((long) upstream.port());
            assertThat(a.getAttributes().get(AttributeKey.longKey("gen_ai.request.max_tokens"))).isEqualTo(64L);
            assertThat(a.getAttributes().get(AttributeKey.doubleKey("gen_ai.request.temperature"))).isEqualTo(0.2);
            assertThat(a.getAttributes().get(AttributeKey.doubleKey("gen_ai.request.top_p"))).isEqualTo(0.9);
            assertThat(a.getAttributes().get(AttributeKey.stringKey("caravan.tier"))).isEqualTo("fast");
        });
        SpanData failed = attempts.get(0);
        assertThat(failed.getAttributes().get(AttributeKey.stringKey("error.type"))).isEqualTo("server_error");
        assertThat(failed.getAttributes().get(AttributeKey.stringKey("gen_ai.provider.name"))).isEqualTo("down");
        assertThat(failed.getAttributes().get(AttributeKey.stringKey("caravan.deployment"))).isEqualTo("chain#0");
        assertThat(failed.getStatus().getStatusCode()).isEqualTo(io.opentelemetry.api.trace.StatusCode.ERROR);

        SpanData answered = attempts.get(1);
        assertThat(answered.getAttributes().get(AttributeKey.stringKey("error.type"))).isNull();
        assertThat(answered.getAttributes().get(AttributeKey.stringKey("gen_ai.request.model"))).isEqualTo("up-model");
        assertThat(answered.getAttributes().get(AttributeKey.stringKey("gen_ai.response.model"))).isEqualTo("m");
        assertThat(answered.getAttributes().get(AttributeKey.stringKey("gen_ai.response.id"))).isEqualTo("chatcmpl-1");
        assertThat(answered.getAttributes().get(AttributeKey.stringArrayKey("gen_ai.response.finish_reasons")))
                .containsExactly("stop");
        assertThat(answered.getAttributes().get(AttributeKey.longKey("gen_ai.usage.input_tokens"))).isEqualTo(10L);
        assertThat(answered.getAttributes().get(AttributeKey.longKey("gen_ai.usage.output_tokens"))).isEqualTo(5L);
        assertThat(answered.getAttributes().get(AttributeKey.longKey("gen_ai.usage.cache_read.input_tokens"))).isEqualTo(0L);
        assertThat(answered.getAttributes().get(AttributeKey.booleanKey("caravan.fallback"))).isTrue();
        assertThat(answered.getAttributes().get(AttributeKey.longKey("caravan.attempt"))).isEqualTo(2L);
        assertThat(answered.getAttributes().get(AttributeKey.stringKey("caravan.outcome"))).isEqualTo("ok");
        assertThat(answered.getAttributes().get(AttributeKey.doubleKey("caravan.cost_usd"))).isPositive();
        // prompts and answers stay out unless opted in
        assertThat(answered.getAttributes().get(AttributeKey.stringKey("gen_ai.input.messages"))).isNull();
        assertThat(answered.getAttributes().get(AttributeKey.stringKey("gen_ai.output.messages"))).isNull();
        noKeyIn(spans);

        List<ConsumerRecord<String, byte[]>> results = TestKafka.readKeys(caravan.resultsTopic, List.of("k-trace"),
                Duration.ofSeconds(20));
        ConsumerRecord<String, byte[]> result = results.stream().filter(r -> r.key().equals("k-trace")).findFirst()
                .orElseThrow();
        String traceparent = new String(result.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8);
        assertThat(traceparent).isEqualTo("00-" + traceId + "-" + task.getSpanId() + "-01");
        assertThat(new String(result.headers().lastHeader("tracestate").value(), StandardCharsets.UTF_8))
                .isEqualTo("vendor=abc");
    }

    @Test
    void aKafkaTaskWhoseRouteBreaksEndsItsSpanInErrorAndIsCountedOnce() throws Exception {
        double brokenBefore = serverErrors();
        String traceId = newTraceId();
        TestKafka.send(caravan.tasksTopic, "broke-1", "{\"id\":\"broke-1\",\"model\":\"rescue\",\"prompt\":\"hi\"}"
                .getBytes(StandardCharsets.UTF_8), Map.of("traceparent", "00-" + traceId + "-2222222222222222-01"));

        List<SpanData> spans = spansOf(traceId, 1);
        SpanData task = taskSpan(spans);
        assertThat(task.hasEnded()).isTrue();
        assertThat(task.getStatus().getStatusCode()).isEqualTo(io.opentelemetry.api.trace.StatusCode.ERROR);
        assertThat(task.getAttributes().get(AttributeKey.stringKey("error.type"))).isEqualTo("server_error");
        assertThat(task.getAttributes().get(AttributeKey.stringKey("caravan.outcome"))).isEqualTo("server_error");
        // the provider call made before the breakage is still a child span
        assertThat(attemptSpans(spans)).extracting(SpanData::getName).containsExactly("chat up-model");

        ConsumerRecord<String, byte[]> result = TestKafka.readKeys(caravan.resultsTopic, List.of("broke-1"),
                Duration.ofSeconds(20)).stream().filter(r -> r.key().equals("broke-1")).findFirst().orElseThrow();
        assertThat(new String(result.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8))
                .isEqualTo("00-" + traceId + "-" + task.getSpanId() + "-01");
        // caravan_requests_total counts it as a server error, once
        await().atMost(Duration.ofSeconds(10)).until(() -> serverErrors() == brokenBefore + 1);
    }

    static double serverErrors() throws Exception {
        return new PrometheusText(caravan.get("/metrics").body()).sum("caravan_requests_total", "outcome", "server_error");
    }

    @Test
    void aTaskWhoseCallerDidNotSampleIsNotExportedButPassesTheContextOn() {
        String traceId = newTraceId();
        TestKafka.send(caravan.tasksTopic, "unsampled-1", "{\"id\":\"unsampled-1\",\"model\":\"rescue\",\"prompt\":\"hi\"}"
                .getBytes(StandardCharsets.UTF_8), Map.of("traceparent", "00-" + traceId + "-3333333333333333-00"));

        ConsumerRecord<String, byte[]> result = TestKafka.readKeys(caravan.resultsTopic, List.of("unsampled-1"),
                Duration.ofSeconds(20)).stream().filter(r -> r.key().equals("unsampled-1")).findFirst().orElseThrow();
        // the same trace, a span id of Caravan's own (not the caller's), and still not sampled
        assertThat(new String(result.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8))
                .matches("00-" + traceId + "-(?!3333333333333333)[0-9a-f]{16}-00");
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2))
                .until(() -> MemorySpans.inTrace(traceId).isEmpty());
    }

    @Test
    void anHttpTaskJoinsItsRequestsTrace() throws Exception {
        String traceId = newTraceId();
        String parentSpan = "b7ad6b7169203331";
        HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + caravan.httpPort + "/v1/tasks"))
                .header("Content-Type", "application/json")
                .header("traceparent", "00-" + traceId + "-" + parentSpan + "-01")
                .POST(HttpRequest.BodyPublishers.ofString("{\"id\":\"h-trace\",\"model\":\"rescue\",\"prompt\":\"hi\"}"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);

        List<SpanData> spans = spansOf(traceId, 1);
        SpanData task = taskSpan(spans);
        assertThat(task.getKind()).isEqualTo(SpanKind.SERVER);
        assertThat(task.getParentSpanId()).isEqualTo(parentSpan);
        assertThat(attemptSpans(spans)).singleElement().satisfies(a -> {
            assertThat(a.getName()).isEqualTo("chat up-model");
            assertThat(a.getParentSpanId()).isEqualTo(task.getSpanId());
            assertThat(a.getAttributes().get(AttributeKey.booleanKey("caravan.fallback"))).isFalse();
            assertThat(a.getAttributes().get(AttributeKey.stringKey("caravan.routing_reason"))).isNotBlank();
        });
        noKeyIn(spans);
    }

    @Test
    void aStreamedAnswerRecordsTimeToFirstChunk() throws Exception {
        String traceId = newTraceId();
        HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + caravan.httpPort + "/v1/chat/completions"))
                .header("Content-Type", "application/json")
                .header("traceparent", "00-" + traceId + "-" + "1111111111111111" + "-01")
                .POST(HttpRequest.BodyPublishers.ofString("""
                        {"model":"streamer","stream":true,"messages":[{"role":"user","content":"count to three"}]}"""))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(response.body()).contains("data: [DONE]");

        SpanData attempt = attemptSpans(spansOf(traceId, 1)).get(0);
        Double firstChunk = attempt.getAttributes().get(AttributeKey.doubleKey("gen_ai.response.time_to_first_chunk"));
        assertThat(firstChunk).isNotNull().isPositive();
        double duration = (attempt.getEndEpochNanos() - attempt.getStartEpochNanos()) / 1e9;
        assertThat(firstChunk).isLessThanOrEqualTo(duration);
    }

    @Test
    void theGenAiMetricsAreOnMetricsWithTheConventionsBuckets() throws Exception {
        caravan.post("/v1/tasks", "{\"id\":\"m-trace\",\"model\":\"rescue\",\"prompt\":\"hi\"}");
        PrometheusText m = new PrometheusText(caravan.get("/metrics").body());
        assertThat(m.sum("gen_ai_client_token_usage_bucket", "gen_ai_token_type", "output",
                "gen_ai_request_model", "up-model", "le", "16.0")).isPositive();
        assertThat(m.sum("gen_ai_client_token_usage_bucket", "gen_ai_token_type", "output",
                "gen_ai_request_model", "up-model", "le", "4.0")).isEqualTo(0.0);
        assertThat(m.sum("gen_ai_client_operation_duration_count", "gen_ai_request_model", "up-model",
                "gen_ai_provider_name", "up", "server_address", "127.0.0.1")).isPositive();
        assertThat(m.sum("gen_ai_client_operation_duration_bucket", "gen_ai_request_model", "up-model",
                "le", "81.92")).isPositive();
    }

    static void noKeyIn(List<SpanData> spans) {
        for (SpanData span : spans) {
            span.getAttributes().forEach((key, value) -> assertThat(String.valueOf(value))
                    .as(key.getKey()).doesNotContain(DOWN_KEY).doesNotContain(UP_KEY).doesNotContain("secret"));
        }
    }
}
