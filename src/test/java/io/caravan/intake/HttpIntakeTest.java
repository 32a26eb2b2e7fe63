package io.caravan.intake;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
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
import org.slf4j.LoggerFactory;

/** POST /v1/tasks: the round trip, what is not a task, and keys that never leak. */
class HttpIntakeTest {

    static final String KEY = "sk-live-SECRET-abc123";

    static WireMockServer upstream;
    static Caravan caravan;
    static ListAppender<ILoggingEvent> logs;
    static Logger root;
    static Logger caravanLogger;
    static Level caravanLevel;

    @BeforeAll
    static void start() throws Exception {
        root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        caravanLogger = (Logger) LoggerFactory.getLogger("io.caravan");
        caravanLevel = caravanLogger.getLevel();
        caravanLogger.setLevel(Level.DEBUG);
        logs = new ListAppender<>();
        logs.start();
        root.addAppender(logs);

        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/good/v1/chat/completions"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("hello back", 12, 0, 3))));
        // a provider that echoes the key it was given in its error text
        upstream.stubFor(post(urlEqualTo("/leaky/v1/chat/completions"))
                .willReturn(aResponse().withStatus(401).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("Incorrect API key provided: " + KEY + " (Bearer " + KEY + ")",
                                "invalid_request_error", "invalid_api_key"))));
        String catalog = """
                providers:
                  good:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/good/v1
                    api_keys: ["${TEST_KEY}"]
                    timeout: 2s
                    retries: 0
                  leaky:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/leaky/v1
                    api_keys: ["${TEST_KEY}"]
                    timeout: 2s
                    retries: 1
                    backoff: 50ms
                models:
                  - {name: good, provider: good, model: good-m, price: {input: 1, output: 2}}
                  - {name: leaky, provider: leaky, model: leaky-m, price: {input: 1, output: 2}}
                tiers:
                  balanced: {model: good}
                default_tier: balanced
                """.formatted(upstream.port());
        caravan = Caravan.start(catalog, Map.of("TEST_KEY", KEY), Map.of("caravan.max-task-bytes", "2048"));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (caravan != null) {
                caravan.close();
            }
            if (upstream != null) {
                upstream.stop();
            }
        } finally {
            root.detachAppender(logs);
            caravanLogger.setLevel(caravanLevel);
        }
    }

    static JsonNode json(String body) throws Exception {
        return Json.MAPPER.readTree(body);
    }

    static void assertOpenAiError(HttpResponse<String> response, int status) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        JsonNode error = json(response.body()).path("error");
        assertThat(error.isObject()).as(response.body()).isTrue();
        assertThat(error.path("message").isTextual()).isTrue();
        assertThat(error.path("message").asText()).isNotBlank();
        assertThat(error.has("type")).isTrue();
        assertThat(error.has("code")).isTrue();
    }

    @Test
    void aTaskGoesInAndItsResultComesOut() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks", """
                {"id":"http-1","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"hi"}],
                 "metadata":{"tenant":"acme"}}""");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type").orElse("")).contains("application/json");
        JsonNode result = json(response.body());
        assertThat(result.path("id").asText()).isEqualTo("http-1");
        assertThat(result.path("status").asText()).isEqualTo("ok");
        assertThat(result.path("output").path("role").asText()).isEqualTo("assistant");
        assertThat(result.path("output").path("content").asText()).isEqualTo("hello back");
        assertThat(result.path("usage").path("input_tokens").asLong()).isEqualTo(12);
        assertThat(result.path("usage").path("output_tokens").asLong()).isEqualTo(3);
        assertThat(result.path("usage").has("cost_usd")).isTrue();
        assertThat(result.path("attempts")).hasSize(1);
        assertThat(result.path("attempts").get(0).path("deployment").asText()).isEqualTo("good#0");
        assertThat(result.path("attempts").get(0).path("outcome").asText()).isEqualTo("ok");
        assertThat(result.path("attempts").get(0).path("status").asInt()).isEqualTo(200);
        assertThat(result.path("metadata").path("tenant").asText()).isEqualTo("acme");
        assertThat(result.path("error").isNull()).isTrue();
        // the key went to the provider in its Authorization header only
        upstream.verify(postRequestedFor(urlEqualTo("/good/v1/chat/completions"))
                .withHeader("Authorization", equalTo("Bearer " + KEY)));
    }

    @Test
    void whatIsNotATaskGetsAnOpenAiErrorAndNeverReachesAProvider() throws Exception {
        int before = upstream.getAllServeEvents().size();

        assertOpenAiError(caravan.post("/v1/tasks", "{\"prompt\": \"unterminated"), 400);
        assertOpenAiError(caravan.post("/v1/tasks", "not json at all"), 400);
        assertOpenAiError(caravan.post("/v1/tasks", "{\"id\":\"no-work\"}"), 400);
        assertOpenAiError(caravan.post("/v1/tasks", "{\"id\":\"empty\",\"messages\":[]}"), 400);

        String big = "{\"id\":\"big\",\"prompt\":\"" + "x".repeat(3000) + "\"}";
        assertOpenAiError(caravan.post("/v1/tasks", big), 413);

        assertThat(upstream.getAllServeEvents()).hasSize(before);
        // and the service still answers afterwards
        assertThat(caravan.post("/v1/tasks", "{\"prompt\":\"still there?\"}").statusCode()).isEqualTo(200);
    }

    @Test
    void theKeyNeverAppearsInResponsesUsageEventsOrLogs() throws Exception {
        List<String> bodies = new ArrayList<>();
        HttpResponse<String> ok = caravan.post("/v1/tasks", "{\"id\":\"leak-ok\",\"prompt\":\"hello\"}");
        assertThat(ok.statusCode()).isEqualTo(200);
        bodies.add(ok.body());

        HttpResponse<String> failed = caravan.post("/v1/tasks",
                "{\"id\":\"leak-401\",\"model\":\"leaky\",\"prompt\":\"my key is not " + "here" + "\"}");
        assertThat(failed.statusCode()).as(failed.body()).isEqualTo(503);
        JsonNode result = json(failed.body());
        assertThat(result.path("error").path("type").asText()).isEqualTo("exhausted");
        assertThat(result.path("attempts").get(0).path("outcome").asText()).isEqualTo("auth");
        bodies.add(failed.body());
        // the upstream did get the key (and echoed it), so any leak below would be Caravan's
        upstream.verify(postRequestedFor(urlEqualTo("/leaky/v1/chat/completions"))
                .withHeader("Authorization", equalTo("Bearer " + KEY)));

        bodies.add(caravan.post("/v1/tasks", "{\"tier\":\"nope\",\"prompt\":\"x\"}").body());
        bodies.add(caravan.post("/v1/tasks", "{broken").body());
        assertThat(bodies).allSatisfy(b -> assertThat(b).doesNotContain(KEY).doesNotContain("SECRET"));

        List<ConsumerRecord<String, byte[]>> usage = TestKafka.read(caravan.usageTopic, Integer.MAX_VALUE,
                Duration.ofSeconds(3));
        assertThat(usage).extracting(ConsumerRecord::key).contains("leak-ok", "leak-401");
        for (ConsumerRecord<String, byte[]> r : usage) {
            assertThat(new String(r.value(), StandardCharsets.UTF_8)).doesNotContain(KEY).doesNotContain("SECRET");
        }
        List<ConsumerRecord<String, byte[]>> results = TestKafka.read(caravan.resultsTopic, Integer.MAX_VALUE,
                Duration.ofSeconds(1));
        for (ConsumerRecord<String, byte[]> r : results) {
            assertThat(new String(r.value(), StandardCharsets.UTF_8)).doesNotContain(KEY);
        }

        List<ILoggingEvent> events;
        synchronized (logs) {
            events = new ArrayList<>(logs.list);
        }
        assertThat(events).isNotEmpty();
        for (ILoggingEvent e : events) {
            assertThat(e.getFormattedMessage()).doesNotContain(KEY).doesNotContain("SECRET");
            for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                assertThat(String.valueOf(t.getMessage())).doesNotContain(KEY).doesNotContain("SECRET");
            }
            assertThat(e.getMDCPropertyMap().toString()).doesNotContain(KEY);
        }
    }

    @Test
    void theStartUpLogNamesTheAddressActuallyBoundAndEachPath() {
        List<String> summaries;
        synchronized (logs) {
            summaries = logs.list.stream().map(ILoggingEvent::getFormattedMessage)
                    .filter(m -> m.startsWith("HTTP endpoints on")).toList();
        }
        assertThat(summaries).singleElement().asString()
                .startsWith("HTTP endpoints on http://127.0.0.1:" + caravan.httpPort + ": ")
                .contains("/v1/tasks (POST)", "/v1/chat/completions", "/health/ready", "/status");
    }
}
