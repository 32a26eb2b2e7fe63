package io.caravan.frontdoor;

import static io.caravan.support.ChatStream.events;
import static io.caravan.support.ChatStream.text;
import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Streaming over raw HTTP: Anthropic and Gemini streams translated, fallback before the first byte, a broken stream, billing. */
class ChatStreamingHttpTest {

    static WireMockServer upstream;
    static Caravan caravan;
    static RawSseUpstream raw;

    static final String ANTHROPIC_STREAM = """
            event: message_start
            data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":200,"cache_read_input_tokens":100,"output_tokens":1}}}

            event: content_block_start
            data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

            event: ping
            data: {"type":"ping"}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Bonjour"}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" de Claude"}}

            event: content_block_stop
            data: {"type":"content_block_stop","index":0}

            event: content_block_start
            data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"get_weather","input":{}}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\": "}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\\"Paris\\"}"}}

            event: content_block_stop
            data: {"type":"content_block_stop","index":1}

            event: message_delta
            data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":25}}

            event: message_stop
            data: {"type":"message_stop"}

            """;

    static final String GEMINI_STREAM = """
            data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hallo "}]}}],"usageMetadata":{"promptTokenCount":12}}

            data: {"candidates":[{"content":{"role":"model","parts":[{"text":"von Gemini"}]}}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":3}}

            data: {"candidates":[{"content":{"role":"model","parts":[{"text":"!"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":4}}

            """;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/oai/v1/chat/completions"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
                        .withBody(FrontDoorFixtures.openAiStream(1000, 500, "one ", "two ", "three"))));
        upstream.stubFor(post(urlEqualTo("/limited/v1/chat/completions"))
                .willReturn(aResponse().withStatus(429).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("Rate limit reached", "requests", "rate_limit_exceeded"))));
        upstream.stubFor(post(urlEqualTo("/anthropic/v1/messages"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
                        .withBody(ANTHROPIC_STREAM)));
        upstream.stubFor(post(urlPathEqualTo("/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"))
                .withQueryParam("alt", equalTo("sse"))
                .withHeader("x-goog-api-key", equalTo("AIza-test-key"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
                        .withBody(GEMINI_STREAM)));
        // "gpt" (2 s timeout): an answer dribbled over 1.6 s, to see events reach the caller as they come
        upstream.stubFor(post(urlEqualTo("/oai/v1/chat/completions")).withRequestBody(containing("DRIP"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
                        .withChunkedDribbleDelay(4, 1600)
                        .withBody(FrontDoorFixtures.openAiStream(5, 5, "a", "b", "c", "d", "e", "f", "g", "h"))));
        // the same, dribbled over 4 s: its first events arrive well within a 2 s deadline, its end well after
        upstream.stubFor(post(urlEqualTo("/oai/v1/chat/completions")).withRequestBody(containing("LONGDRIP"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream")
                        .withChunkedDribbleDelay(8, 4000)
                        .withBody(FrontDoorFixtures.openAiStream(5, 5, "a", "b", "c", "d", "e", "f", "g", "h"))));
        // Anthropic overloaded right after message_start: nothing was said yet, so the stream falls back
        upstream.stubFor(post(urlEqualTo("/anthropic/v1/messages")).withRequestBody(containing("OVERLOADED"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody("""
                        event: message_start
                        data: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","content":[],"usage":{"input_tokens":20,"output_tokens":1}}}

                        event: error
                        data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}

                        """)));
        // "broken" (1 s timeout) is a bare server that breaks its streams mid-body
        raw = new RawSseUpstream();
        caravan = Caravan.start(FrontDoorFixtures.catalog(upstream)
                .replace("127.0.0.1:" + upstream.port() + "/broken/", "127.0.0.1:" + raw.port() + "/broken/"));
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
        raw.close();
    }

    static HttpResponse<String> stream(String model, String extra) throws Exception {
        return caravan.post("/v1/chat/completions", """
                {"model":"%s","stream":true,"messages":[{"role":"user","content":"hi there"}]%s}
                """.formatted(model, extra));
    }

    @Test
    void anAnthropicStreamArrivesAsOpenAiChunksWithItsToolCall() throws Exception {
        HttpResponse<String> response = stream("claude", "");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
        assertThat(response.headers().firstValue("x-caravan-provider")).contains("anthropic");
        List<String> events = events(response.body());
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        assertThat(text(events)).isEqualTo("Bonjour de Claude");
        StringBuilder args = new StringBuilder();
        String finish = null;
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode chunk = Json.MAPPER.readTree(e);
            assertThat(chunk.path("object").asText()).isEqualTo("chat.completion.chunk");
            assertThat(chunk.path("model").asText()).isEqualTo("claude-sonnet-4-5");
            JsonNode choice = chunk.path("choices").get(0);
            for (JsonNode call : choice.path("delta").path("tool_calls")) {
                assertThat(call.path("index").asInt()).isZero();
                if (call.has("id")) {
                    assertThat(call.path("id").asText()).isEqualTo("toolu_9");
                    assertThat(call.path("function").path("name").asText()).isEqualTo("get_weather");
                }
                args.append(call.path("function").path("arguments").asText(""));
            }
            if (!choice.path("finish_reason").isNull()) {
                finish = choice.path("finish_reason").asText();
            }
        }
        assertThat(Json.MAPPER.readTree(args.toString()).path("city").asText()).isEqualTo("Paris");
        assertThat(finish).isEqualTo("tool_calls");
        upstream.verify(postRequestedFor(urlEqualTo("/anthropic/v1/messages"))
                .withRequestBody(matchingJsonPath("$.stream", equalTo("true"))));
    }

    @Test
    void aGeminiStreamArrivesAsOpenAiChunksWithUsageWhenAsked() throws Exception {
        HttpResponse<String> response = stream("gem", ",\"stream_options\":{\"include_usage\":true}");
        assertThat(response.statusCode()).isEqualTo(200);
        List<String> events = events(response.body());
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        assertThat(text(events)).isEqualTo("Hallo von Gemini!");
        JsonNode usage = Json.MAPPER.readTree(events.get(events.size() - 2));
        assertThat(usage.path("choices")).isEmpty();
        assertThat(usage.path("usage").path("prompt_tokens").asLong()).isEqualTo(12);
        assertThat(usage.path("usage").path("completion_tokens").asLong()).isEqualTo(4);
    }

    @Test
    void aStreamFallsBackWhenItsFirstDeploymentIsRateLimited() throws Exception {
        HttpResponse<String> response = stream("flaky", "");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("x-caravan-fallback")).contains("true");
        List<String> events = events(response.body());
        assertThat(text(events)).isEqualTo("one two three");
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
    }

    @Test
    void anErrorEventBeforeAnyOutputFallsBackLikeAFailedCall() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/chat/completions",
                "{\"model\":\"claudefb\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"OVERLOADED\"}]}");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("x-caravan-fallback")).contains("true");
        assertThat(response.headers().firstValue("x-caravan-provider")).contains("oai");
        List<String> events = events(response.body());
        assertThat(text(events)).isEqualTo("one two three");
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        JsonNode first = Json.MAPPER.readTree(events.get(0)).path("choices").get(0).path("delta");
        assertThat(first.path("role").asText()).isEqualTo("assistant");
        assertThat(first.path("content").asText()).isEqualTo("one ");
        String taskId = Json.MAPPER.readTree(events.get(0)).path("id").asText().substring("chatcmpl-".length());
        assertThat(usageEvent(taskId).path("outcome").asText()).isEqualTo("server_error");
    }

    @Test
    void aStreamThatBreaksEndsWithAnErrorEventNeverACleanEnd() throws Exception {
        HttpResponse<String> response = stream("broken", "");
        assertThat(response.statusCode()).isEqualTo(200);
        List<String> events = events(response.body());
        assertThat(events).doesNotContain("[DONE]");
        assertThat(text(events.subList(0, events.size() - 1))).isEqualTo("half an ans");
        JsonNode last = Json.MAPPER.readTree(events.get(events.size() - 1));
        assertThat(last.path("error").path("code").asText()).isEqualTo("server_error");
        assertThat(last.path("error").path("message").asText()).contains("terminal event");
        String taskId = Json.MAPPER.readTree(events.get(0)).path("id").asText().substring("chatcmpl-".length());
        JsonNode event = usageEvent(taskId);
        assertThat(event.path("outcome").asText()).isEqualTo("server_error");
        assertThat(event.path("deployment").asText()).isEqualTo("broken#0");
    }

    @Test
    void aStreamedCallIsBilledInItsUsageEvent() throws Exception {
        HttpResponse<String> response = stream("gpt", ",\"metadata\":{\"tenant\":\"acme\"}");
        List<String> events = events(response.body());
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        String taskId = Json.MAPPER.readTree(events.get(0)).path("id").asText().substring("chatcmpl-".length());
        JsonNode event = usageEvent(taskId);
        assertThat(event.path("outcome").asText()).isEqualTo("ok");
        assertThat(event.path("input_tokens").asLong()).isEqualTo(1000);
        assertThat(event.path("output_tokens").asLong()).isEqualTo(500);
        assertThat(event.path("cost_usd").asDouble()).isCloseTo((1000 * 0.15 + 500 * 0.60) / 1_000_000.0, within(1e-9));
        assertThat(event.path("metadata").path("tenant").asText()).isEqualTo("acme");
        assertThat(event.path("latency_ms").asLong()).isGreaterThanOrEqualTo(0);
    }

    @Test
    void eventsReachTheCallerAsTheUpstreamSendsThem() throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        java.net.http.HttpRequest request = java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + caravan.httpPort + "/v1/chat/completions"))
                .header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"model\":\"gpt\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"DRIP\"}]}"))
                .build();
        long start = System.nanoTime();
        List<Long> arrivals = new ArrayList<>();
        List<String> lines = new ArrayList<>();
        http.send(request, HttpResponse.BodyHandlers.ofLines()).body().forEach(line -> {
            if (line.startsWith("data: ")) {
                arrivals.add((System.nanoTime() - start) / 1_000_000L);
                lines.add(line.substring(6));
            }
        });
        assertThat(lines.get(lines.size() - 1)).isEqualTo("[DONE]");
        assertThat(text(lines)).isEqualTo("abcdefgh");
        // the first events left Caravan well before the upstream finished: nothing waits for a buffer to fill
        assertThat(arrivals.get(arrivals.size() - 1) - arrivals.get(0)).isGreaterThan(600);
    }

    @Test
    void aStreamOutlivingTheTaskDeadlineIsCutWithATimeoutEvent() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/chat/completions",
                "{\"model\":\"gpt\",\"stream\":true,\"timeout_ms\":2000,\"messages\":[{\"role\":\"user\",\"content\":\"LONGDRIP\"}]}");
        assertThat(response.statusCode()).isEqualTo(200);
        List<String> events = events(response.body());
        assertThat(events).doesNotContain("[DONE]");
        JsonNode last = Json.MAPPER.readTree(events.get(events.size() - 1));
        assertThat(last.path("error").path("code").asText()).isEqualTo("timeout");
        assertThat(last.path("error").path("message").asText()).contains("deadline");
        upstream.verify(postRequestedFor(urlEqualTo("/oai/v1/chat/completions"))
                .withHeader("Accept", equalTo("text/event-stream")));
    }

    @Test
    void aStreamThatStallsPastTheTimeoutNeverEndsCleanly() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/chat/completions",
                        "{\"model\":\"broken\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"STALL\"}]}");
        List<String> events = events(response.body());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(events).doesNotContain("[DONE]");
        assertThat(text(events.subList(0, events.size() - 1))).isEqualTo("half an ans");
        JsonNode last = Json.MAPPER.readTree(events.get(events.size() - 1));
        assertThat(last.path("error").path("code").asText()).isEqualTo("timeout");
        String taskId = Json.MAPPER.readTree(events.get(0)).path("id").asText().substring("chatcmpl-".length());
        assertThat(usageEvent(taskId).path("outcome").asText()).isEqualTo("timeout");
    }

    @Test
    void aCallerThatLeavesMidStreamCancelsTheUpstreamCall() throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        java.net.http.HttpRequest request = java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + caravan.httpPort + "/v1/chat/completions"))
                .header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"model\":\"broken\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"HANG\"}]}"))
                .build();
        HttpResponse<java.io.InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        String first;
        try (var reader = new java.io.BufferedReader(new java.io.InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            first = reader.readLine();
        }
        assertThat(first).startsWith("data: ");
        String taskId = Json.MAPPER.readTree(first.substring(6)).path("id").asText().substring("chatcmpl-".length());
        assertThat(raw.droppedByCaravan.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(usageEvent(taskId).path("outcome").asText()).isEqualTo("cancelled");
    }

    @Test
    void aCallerThatLeavesBeforeAPlainAnswerAbortsTheUpstreamCall() throws Exception {
        String body = "{\"model\":\"hanging\",\"messages\":[{\"role\":\"user\",\"content\":\"SILENT\"}]}";
        try (java.net.Socket socket = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), caravan.httpPort)) {
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().flush();
            assertThat(raw.silentReceived.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        }
        // the provider's timeout is 60 s: only an abort closes the upstream connection this soon
        assertThat(raw.silentDropped.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(lastUsageEventOf("hanging#0").path("outcome").asText()).isEqualTo("cancelled");
    }

    @Test
    void aSimulatedDeploymentStreamsItsTextInAFewChunks() throws Exception {
        HttpResponse<String> response = stream("sim", "");
        assertThat(response.statusCode()).isEqualTo(200);
        List<String> events = events(response.body());
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        assertThat(events.size()).isGreaterThanOrEqualTo(5);
        assertThat(text(events)).startsWith("[simulated sim-1] You asked (2 words): hi there");
    }

    /** The latest usage event (one per attempt) of this deployment. */
    static JsonNode lastUsageEventOf(String deployment) throws Exception {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < end) {
            JsonNode found = null;
            for (ConsumerRecord<String, byte[]> r : TestKafka.read(caravan.usageTopic, Integer.MAX_VALUE, Duration.ofSeconds(2))) {
                JsonNode event = Json.MAPPER.readTree(new String(r.value(), StandardCharsets.UTF_8));
                if (deployment.equals(event.path("deployment").asText())) {
                    found = event;
                }
            }
            if (found != null) {
                return found;
            }
        }
        throw new AssertionError("no usage event for deployment " + deployment);
    }

    static JsonNode usageEvent(String taskId) throws Exception {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < end) {
            for (ConsumerRecord<String, byte[]> r : TestKafka.read(caravan.usageTopic, Integer.MAX_VALUE, Duration.ofSeconds(2))) {
                if (taskId.equals(r.key())) {
                    return Json.MAPPER.readTree(new String(r.value(), StandardCharsets.UTF_8));
                }
            }
        }
        throw new AssertionError("no usage event for task " + taskId);
    }
}
