package io.caravan.tracing;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.accounting.PrometheusText;
import io.caravan.intake.ChatCompletionsIntake;
import io.caravan.support.BatchUpstream;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.vertx.core.http.HttpServerResponse;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.camel.builder.AdviceWith;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A task that came over HTTP ({@code POST /v1/tasks}, {@code POST /v1/chat/completions}) ends its span exactly once,
 * in error with {@code error.type}, whichever way it leaves: its route breaks, its caller hangs up (before a plain
 * answer or mid-stream), its deadline passes (before the answer or mid-stream), or it is refused before dispatch. A
 * task broken inside Caravan answers 500 in OpenAI's error shape (an error event once its stream began), drops its
 * upstream stream and is counted once; a task accepted for a batch (202) ends its span {@code accepted}, status OK.
 */
class HttpTaskSpanTest {

    static WireMockServer upstream;
    static ServerSocket silent;
    /** The requests the silent upstream took, as text. */
    static final java.util.concurrent.BlockingQueue<String> silentRequests = new java.util.concurrent.LinkedBlockingQueue<>();
    /** The requests whose connection Caravan dropped (closed or reset), as text. */
    static final java.util.concurrent.BlockingQueue<String> silentDropped = new java.util.concurrent.LinkedBlockingQueue<>();
    static BatchUpstream batches;
    static Caravan caravan;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("up"))).willReturn(Upstreams.ok("fine")));
        // 4 s to answer: the task's deadline passes first
        upstream.stubFor(post(urlEqualTo(Upstreams.path("slow")))
                .willReturn(Upstreams.ok("late").withFixedDelay(4_000)));
        silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(HttpTaskSpanTest::holdSilently, "silent-upstream");
        acceptor.setDaemon(true);
        acceptor.start();
        // a stream whose events dribble out over 12 s
        StringBuilder sse = new StringBuilder();
        sse.append(event("{\"role\":\"assistant\",\"content\":\"\"}", null));
        for (int i = 0; i < 20; i++) {
            sse.append(event("{\"content\":\"word" + i + " \"}", null));
        }
        sse.append(event("{}", "\"stop\"")).append("data: [DONE]\n\n");
        upstream.stubFor(post(urlEqualTo(Upstreams.path("dribble"))).withRequestBody(containing("\"stream\":true"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
                        .withBody(sse.toString()).withChunkedDribbleDelay(22, 12_000)));
        int port = upstream.port();
        batches = new BatchUpstream();
        String catalog = """
                providers:
                  up: {api: openai, base_url: "http://127.0.0.1:%1$d/up/v1", api_keys: ["sk-up"], retries: 0}
                  slow: {api: openai, base_url: "http://127.0.0.1:%1$d/slow/v1", api_keys: ["sk-slow"], retries: 0}
                  dribble: {api: openai, base_url: "http://127.0.0.1:%1$d/dribble/v1", api_keys: ["sk-dr"], retries: 0}
                  silent: {api: openai, base_url: "http://127.0.0.1:%2$d/v1", api_keys: ["sk-si"], retries: 0}
                  later:
                    api: openai
                    base_url: %3$s
                    api_keys: ["sk-batch"]
                    retries: 0
                    batch: {collect: 200ms, poll: 100ms, min_slack: 1s}
                models:
                  - {name: rescue, provider: up, model: up-model}
                  - {name: sluggish, provider: slow, model: slow-model}
                  - {name: trickle, provider: dribble, model: trickle-model}
                  - {name: mute, provider: silent, model: mute-model}
                  - {name: deferred, provider: later, model: deferred-model}
                tiers:
                  fast: {model: rescue}
                default_tier: fast
                """.formatted(port, silent.getLocalPort(), batches.baseUrl());
        String prefix = Caravan.newPrefix();
        caravan = Caravan.start(catalog, Map.of(), Map.of(
                "caravan.otel.enabled", "true",
                "otel.traces.exporter", "caravan-memory",
                "otel.metrics.exporter", "none",
                "otel.bsp.schedule.delay", "50",
                "caravan.topics.batches", prefix + ".batches",
                "caravan.batch.tick", "50ms"), prefix);
        // a task route that breaks after its provider call (a task whose metadata says "break"), as a bug would
        AdviceWith.adviceWith(caravan.app().camelContext(), "task", route -> route
                .weaveByToUri("direct:dispatch").after()
                .process(exchange -> {
                    var task = TaskContext.of(exchange).task();
                    if (task.metadata() != null && task.metadata().path("break").asBoolean(false)) {
                        throw new IllegalStateException("simulated bug after the provider call");
                    }
                }));
        // a chat route that breaks after its stream to the caller began ("break": "mid-stream"): the head and one
        // event are out, as the stream writer sends them, when the bug strikes
        AdviceWith.adviceWith(caravan.app().camelContext(), "intake-openai-chat", route -> route
                .weaveByToUri("direct:task").after()
                .process(exchange -> {
                    var task = TaskContext.of(exchange).task();
                    if (task.metadata() != null && task.metadata().path("break").asText().equals("mid-stream")) {
                        var stream = exchange.getProperty(ChatCompletionsIntake.STREAM,
                                ChatCompletionsIntake.StreamRequest.class);
                        HttpServerResponse response = (HttpServerResponse) stream.response();
                        response.setStatusCode(200).putHeader("Content-Type", "text/event-stream").setChunked(true);
                        response.write(event("{\"role\":\"assistant\",\"content\":\"begun\"}", null));
                        throw new IllegalStateException("simulated bug mid-stream");
                    }
                }));
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
        silent.close();
        batches.close();
    }

    /**
     * An upstream that takes a request and never finishes it: a plain one gets no answer at all, a streamed one the
     * head of an event stream and its first event. Each request it took is put in {@link #silentRequests}.
     */
    static void holdSilently() {
        while (!silent.isClosed()) {
            try {
                Socket socket = silent.accept();
                Thread t = new Thread(() -> {
                    try (socket) {
                        socket.setSoTimeout(30_000);
                        InputStream in = socket.getInputStream();
                        String request = readRequest(in);
                        silentRequests.add(request);
                        if (request.contains("\"stream\":true")) {
                            String first = event("{\"role\":\"assistant\",\"content\":\"half\"}", null);
                            socket.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                    + "Transfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(first.length())
                                    + "\r\n" + first + "\r\n").getBytes(StandardCharsets.UTF_8));
                            socket.getOutputStream().flush();
                        }
                        boolean dropped = true;
                        try {
                            while (in.read() >= 0) {
                                // until Caravan drops the connection (or 30 s)
                            }
                        } catch (java.net.SocketTimeoutException e) {
                            dropped = false; // held for 30 s
                        } catch (java.io.IOException e) {
                            // reset: dropped
                        }
                        if (dropped) {
                            silentDropped.add(request);
                        }
                    } catch (java.io.IOException ignored) {
                        // dropped before its request was read
                    }
                }, "silent-upstream-conn");
                t.setDaemon(true);
                t.start();
            } catch (java.io.IOException e) {
                return;
            }
        }
    }

    /** A request's head and its body (Content-Length or chunked), as text. */
    static String readRequest(InputStream in) throws java.io.IOException {
        java.io.ByteArrayOutputStream seen = new java.io.ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0) {
            seen.write(b);
            String text = seen.toString(StandardCharsets.UTF_8);
            int headEnd = text.indexOf("\r\n\r\n");
            if (headEnd < 0) {
                continue;
            }
            var length = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(text);
            if (length.find() ? seen.size() >= headEnd + 4 + Integer.parseInt(length.group(1))
                    : text.endsWith("0\r\n\r\n") && text.length() > headEnd + 4) {
                return text;
            }
        }
        return seen.toString(StandardCharsets.UTF_8);
    }

    static String event(String delta, String finish) {
        return "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"trickle-model\","
                + "\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":" + finish + "}]}\n\n";
    }

    static HttpRequest.Builder request(String path, String traceId, String body) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + caravan.httpPort + path))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .header("traceparent", "00-" + traceId + "-00f067aa0ba902b7-01")
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    static HttpResponse<String> send(String path, String traceId, String body) throws Exception {
        return HTTP.send(request(path, traceId, body).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The trace's one task span, once exported, checked to end in error with this error type. */
    static SpanData taskSpanEndedInError(String traceId, String errorType) {
        await().atMost(Duration.ofSeconds(20)).until(() -> MemorySpans.inTrace(traceId).stream()
                .anyMatch(s -> s.getName().equals("caravan task")));
        List<SpanData> tasks = MemorySpans.inTrace(traceId).stream()
                .filter(s -> s.getName().equals("caravan task")).toList();
        assertThat(tasks).singleElement().satisfies(task -> {
            assertThat(task.hasEnded()).isTrue();
            assertThat(task.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
            assertThat(task.getAttributes().get(AttributeKey.stringKey("error.type"))).isEqualTo(errorType);
            assertThat(task.getAttributes().get(AttributeKey.stringKey("caravan.outcome"))).isEqualTo(errorType);
        });
        return tasks.get(0);
    }

    static List<SpanData> callSpans(String traceId) {
        return MemorySpans.inTrace(traceId).stream().filter(s -> s.getName().startsWith("chat ")).toList();
    }

    /** No second task span turns up later (a span ended twice would be exported twice). */
    static void onlyOnce(String traceId) {
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(3)).until(() -> MemorySpans.inTrace(traceId)
                .stream().filter(s -> s.getName().equals("caravan task")).count() == 1);
    }

    /** Tasks counted with this outcome in {@code caravan_requests_total}. */
    static double requests(String outcome) throws Exception {
        return new PrometheusText(caravan.get("/metrics").body()).sum("caravan_requests_total", "outcome", outcome);
    }

    /** OpenAI's error shape of a task broken inside Caravan: server_error, no stack trace, no exception name. */
    static void internalError(String json) throws Exception {
        assertThat(json).doesNotContain("simulated bug").doesNotContain("IllegalStateException")
                .doesNotContain("\tat ");
        var error = Json.MAPPER.readTree(json).path("error");
        assertThat(error.path("type").asText()).isEqualTo("server_error");
        assertThat(error.path("code").asText()).isEqualTo("server_error");
        assertThat(error.has("param")).isTrue();
        assertThat(error.path("message").asText()).startsWith("internal error in Caravan");
    }

    /** The two HTTP doors, each with a task whose route breaks after its provider call. */
    static List<Arguments> brokenTasks() {
        return List.of(
                Arguments.of("/v1/tasks", "{\"model\":\"rescue\",\"prompt\":\"hi\",\"metadata\":{\"break\":true}}"),
                Arguments.of("/v1/chat/completions",
                        "{\"model\":\"rescue\",\"metadata\":{\"break\":true},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
    }

    @ParameterizedTest
    @MethodSource("brokenTasks")
    void aRequestWhoseRouteBreaksAnswers500AndEndsItsSpanInError(String door, String body) throws Exception {
        String traceId = TaskTracingTest.newTraceId();
        double before = requests("server_error");
        HttpResponse<String> response = send(door, traceId, body);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(500);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("application/json"));
        internalError(response.body());
        assertThat(requests("server_error")).isEqualTo(before + 1);

        taskSpanEndedInError(traceId, "server_error");
        // the provider call made before the breakage is a child span
        assertThat(callSpans(traceId)).extracting(SpanData::getName).containsExactly("chat up-model");
        onlyOnce(traceId);
    }

    @Test
    void aStreamedChatRequestWhoseRouteBreaksAfterTheStreamOpenedDropsTheUpstreamAndAnswers500() throws Exception {
        String traceId = TaskTracingTest.newTraceId();
        double before = requests("server_error");
        // the silent upstream sends the head and one event, then holds the connection for 30 s
        HttpResponse<String> response = send("/v1/chat/completions", traceId, """
                {"model":"mute","stream":true,"metadata":{"break":true},
                 "messages":[{"role":"user","content":"broken-before-the-stream"}]}""");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(500);
        internalError(response.body());
        assertThat(requests("server_error")).isEqualTo(before + 1);
        // the upstream connection is dropped at once, not held until the provider ends it
        await().atMost(Duration.ofSeconds(10)).until(() -> silentDropped.stream()
                .anyMatch(r -> r.contains("broken-before-the-stream")));

        SpanData task = taskSpanEndedInError(traceId, "server_error");
        // the streamed call was abandoned by Caravan: cancelled, not the provider's failure
        assertThat(callSpans(traceId)).singleElement().satisfies(call -> {
            assertThat(call.getParentSpanId()).isEqualTo(task.getSpanId());
            assertThat(call.getAttributes().get(AttributeKey.stringKey("error.type"))).isEqualTo("cancelled");
        });
        onlyOnce(traceId);
    }

    @Test
    void aStreamWhoseRouteBreaksAfterItBeganEndsWithAnErrorEventAndDropsTheUpstream() throws Exception {
        String traceId = TaskTracingTest.newTraceId();
        double before = requests("server_error");
        HttpResponse<String> response = send("/v1/chat/completions", traceId, """
                {"model":"mute","stream":true,"metadata":{"break":"mid-stream"},
                 "messages":[{"role":"user","content":"broken-mid-stream"}]}""");
        // the stream had begun: 200, the event already sent, then an error event, and the stream ends, no [DONE]
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).contains("begun").doesNotContain("[DONE]");
        List<String> events = response.body().lines().filter(l -> l.startsWith("data: ")).toList();
        assertThat(events).hasSize(2);
        internalError(events.get(1).substring("data: ".length()));
        assertThat(requests("server_error")).isEqualTo(before + 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> silentDropped.stream()
                .anyMatch(r -> r.contains("broken-mid-stream")));

        taskSpanEndedInError(traceId, "server_error");
        assertThat(callSpans(traceId)).singleElement().satisfies(call -> assertThat(
                call.getAttributes().get(AttributeKey.stringKey("error.type"))).isEqualTo("cancelled"));
        onlyOnce(traceId);
    }

    @Test
    void aTaskAcceptedForABatchEndsItsSpanAsAccepted() throws Exception {
        String traceId = TaskTracingTest.newTraceId();
        double answeredBefore = new PrometheusText(caravan.get("/metrics").body())
                .sum("caravan_requests_total", "model", "deferred", "outcome", "ok");
        HttpResponse<String> response = send("/v1/tasks", traceId,
                "{\"model\":\"deferred\",\"prompt\":\"hi\",\"max_delay\":\"6h\"}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);

        await().atMost(Duration.ofSeconds(20)).until(() -> MemorySpans.inTrace(traceId).stream()
                .anyMatch(s -> s.getName().equals("caravan task")));
        assertThat(MemorySpans.inTrace(traceId)).filteredOn(s -> s.getName().equals("caravan task"))
                .singleElement().satisfies(task -> {
                    assertThat(task.getStatus().getStatusCode()).isEqualTo(StatusCode.OK);
                    assertThat(task.getAttributes().get(AttributeKey.stringKey("caravan.outcome")))
                            .isEqualTo("accepted");
                    assertThat(task.getAttributes().get(AttributeKey.stringKey("error.type"))).isNull();
                    assertThat(task.getAttributes().get(AttributeKey.stringKey("caravan.routing_reason")))
                            .contains("-> batch on deferred#0");
                });
        // caravan_requests_total counts finished tasks: this one once, when its batch answered it
        await().atMost(Duration.ofSeconds(30)).until(() -> new PrometheusText(caravan.get("/metrics").body())
                .sum("caravan_requests_total", "model", "deferred", "outcome", "ok") == answeredBefore + 1);
        assertThat(requests("accepted") + requests("unknown")).isZero();
        onlyOnce(traceId);
    }

    @Test
    void aCallerWhoHangsUpBeforeThePlainAnswerEndsTheSpanAsCancelled() throws Exception {
        String traceId = TaskTracingTest.newTraceId();
        String body = "{\"model\":\"mute\",\"messages\":[{\"role\":\"user\",\"content\":\"leaving-early\"}]}";
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), caravan.httpPort)) {
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "traceparent: 00-" + traceId + "-00f067aa0ba902b7-01\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().flush();
            // the call is in flight once the upstream has the request
            await().atMost(Duration.ofSeconds(10)).until(() -> silentRequests.stream()
                    .anyMatch(r -> r.contains("leaving-early")));
        }
        taskSpanEndedInError(traceId, "cancelled");
        onlyOnce(traceId);
    }

    @Test
    void aCallerWhoHangsUpMidStreamEndsTheSpanAsCancelled() throws Exception {
        String traceId = TaskTracingTest.newTraceId();
        HttpResponse<InputStream> response = HTTP.send(request("/v1/chat/completions", traceId,
                "{\"model\":\"trickle\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").build(),
                HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            assertThat(reader.readLine()).startsWith("data: ");
        }
        SpanData task = taskSpanEndedInError(traceId, "cancelled");
        assertThat(callSpans(traceId)).singleElement().satisfies(call -> {
            assertThat(call.getParentSpanId()).isEqualTo(task.getSpanId());
            assertThat(call.getAttributes().get(AttributeKey.stringKey("error.type"))).isEqualTo("cancelled");
        });
        onlyOnce(traceId);
    }

    @Test
    void aDeadlineThatPassesBeforeTheAnswerEndsTheSpanAsTimeout() throws Exception {
        String traceId = TaskTracingTest.newTraceId();
        HttpResponse<String> response = send("/v1/tasks", traceId,
                "{\"model\":\"sluggish\",\"prompt\":\"hi\",\"timeout_ms\":300}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(504);
        taskSpanEndedInError(traceId, "timeout");
        onlyOnce(traceId);
    }

    @Test
    void aDeadlineThatPassesMidStreamEndsTheSpanAsTimeout() throws Exception {
        String traceId = TaskTracingTest.newTraceId();
        HttpResponse<String> response = send("/v1/chat/completions", traceId, """
                {"model":"mute","stream":true,"timeout_ms":3000,"messages":[{"role":"user","content":"hi"}]}""");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).contains("half").contains("\"timeout\"").doesNotContain("[DONE]");
        taskSpanEndedInError(traceId, "timeout");
        onlyOnce(traceId);
    }

    @Test
    void aTaskRefusedBeforeDispatchEndsItsSpanInError() throws Exception {
        String traceId = TaskTracingTest.newTraceId();
        HttpResponse<String> response = send("/v1/chat/completions", traceId,
                "{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(response.statusCode()).as(response.body()).isBetween(400, 499);
        SpanData task = taskSpanEndedInError(traceId, "invalid_task");
        assertThat(callSpans(traceId)).isEmpty();
        assertThat(task.getParentSpanId()).isEqualTo("00f067aa0ba902b7");
        onlyOnce(traceId);
    }
}
