package io.caravan.provider;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.util.Json;
import io.caravan.util.Redaction;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/**
 * Issue 13, point 7: a provider that quotes the request's key in its errors gets that key nowhere Caravan writes
 * (the /v1/tasks answer, the chat endpoint's error body, a stream's error event, llm.results, the dead letter's
 * headers, the log), whatever the key looks like: known shapes, and one of no shape at all that only the catalog
 * knows. Every key is in the catalog through {@code ${ENV}}; every API's way of carrying it is echoed.
 */
class NoKeyLeavesTest {

    static final SecureRandom RANDOM = new SecureRandom();
    static final Map<String, String> KEYS = new LinkedHashMap<>();
    static final List<String> APIS = List.of("openai", "anthropic", "gemini");

    static KeyEchoUpstream upstream;
    static Caravan caravan;
    static ListAppender<ILoggingEvent> logs;
    static Logger root;
    static Logger caravanLogger;
    static Level caravanLevel;

    static {
        KEYS.put("sk", "sk-proj-" + alnum(48));
        KEYS.put("gsk", "gsk_" + alnum(52));
        KEYS.put("xai", "xai-" + alnum(80));
        KEYS.put("hex64", HexFormat.of().formatHex(bytes(32)));
        KEYS.put("base64", Base64.getEncoder().encodeToString(bytes(32))); // 44 characters, '=' padded
        KEYS.put("plain", "purple.monkey." + lower(12)); // no shape at all: only the catalog knows it
    }

    static Stream<Arguments> cases() {
        return KEYS.keySet().stream().flatMap(shape -> APIS.stream().map(api -> Arguments.of(shape, api)));
    }

    @BeforeAll
    static void start() throws Exception {
        root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        caravanLogger = (Logger) LoggerFactory.getLogger("io.caravan");
        caravanLevel = caravanLogger.getLevel();
        caravanLogger.setLevel(Level.DEBUG); // the attempt's detail line too
        logs = new ListAppender<>();
        logs.start();
        root.addAppender(logs);

        upstream = new KeyEchoUpstream();
        StringBuilder providers = new StringBuilder("providers:\n");
        StringBuilder models = new StringBuilder("models:\n");
        Map<String, String> env = new LinkedHashMap<>();
        KEYS.forEach((shape, key) -> {
            env.put("KEY_" + shape.toUpperCase(), key);
            for (String api : APIS) {
                String name = api + "-" + shape;
                providers.append("""
                          %s:
                            api: %s
                            base_url: http://127.0.0.1:%d/%s%s
                            api_keys: ["${KEY_%s}"]
                            timeout: 5s
                            retries: 0
                        """.formatted(name, api, upstream.port(), name, api.equals("openai") ? "/v1" : "",
                        shape.toUpperCase()));
                models.append("  - {name: %s, provider: %s, model: m, price: {input: 1, output: 1}}\n"
                        .formatted(name, name));
            }
        });
        String catalog = providers + models.toString() + """
                tiers:
                  balanced: {model: openai-sk}
                circuit_breaker: {minimum_calls: 1000, window: 1000}
                """;
        // every call reaches the provider: a key that answered 401 is not cooled down
        caravan = Caravan.start(catalog, env, Map.of("caravan.key-cooldown", "0ms"));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (caravan != null) {
                caravan.close();
            }
            if (upstream != null) {
                upstream.close();
            }
        } finally {
            root.detachAppender(logs);
            caravanLogger.setLevel(caravanLevel);
        }
    }

    @ParameterizedTest(name = "{0} key over {1}")
    @MethodSource("cases")
    void aKeyTheProviderQuotesLeavesNowhere(String shape, String api) throws Exception {
        String key = KEYS.get(shape);
        String model = api + "-" + shape;
        int echoesBefore = upstream.echoes(key);

        // POST /v1/tasks: the provider's 400 text is passed on, without the key
        JsonNode task = json(caravan.post("/v1/tasks", """
                {"id":"http-%s","model":"%s","prompt":"hi"}""".formatted(model, model)).body());
        assertThat(task.path("status").asText()).isEqualTo("error");
        assertKeyFree(task.toString(), key);
        assertThat(task.path("error").path("message").asText()).contains("Request rejected for key " + Redaction.MASK);
        // and its 401 (the key's fault: no text passed on, but the attempt's detail is logged)
        assertKeyFree(caravan.post("/v1/tasks", """
                {"id":"http401-%s","model":"%s","prompt":"ANSWER-401"}""".formatted(model, model)).body(), key);

        // POST /v1/chat/completions: the OpenAI error body
        HttpResponse<String> chat = caravan.post("/v1/chat/completions", """
                {"model":"%s","messages":[{"role":"user","content":"hi"}]}""".formatted(model));
        assertThat(chat.statusCode()).isBetween(400, 599);
        assertKeyFree(chat.body(), key);
        assertThat(json(chat.body()).path("error").path("message").asText()).contains(Redaction.MASK);

        // a streamed request: the first delta goes out, then the provider's error event quoting the key
        HttpResponse<String> stream = caravan.post("/v1/chat/completions", """
                {"model":"%s","stream":true,"messages":[{"role":"user","content":"hi"}]}""".formatted(model));
        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.body()).contains("\"Hi\"").contains("\"error\"").contains(Redaction.MASK);
        assertKeyFree(stream.body(), key);

        // Kafka: the llm.results record and the dead letter's headers
        String kafkaId = "kafka-" + model;
        TestKafka.send(caravan.tasksTopic, kafkaId, """
                {"id":"%s","model":"%s","prompt":"hi"}""".formatted(kafkaId, model)
                .getBytes(StandardCharsets.UTF_8), Map.of());
        ConsumerRecord<String, byte[]> result = only(caravan.resultsTopic, kafkaId);
        String resultText = new String(result.value(), StandardCharsets.UTF_8);
        assertKeyFree(resultText, key);
        assertThat(json(resultText).path("error").path("message").asText()).contains(Redaction.MASK);
        ConsumerRecord<String, byte[]> dead = only(caravan.dlqTopic, kafkaId);
        StringBuilder headers = new StringBuilder();
        for (Header h : dead.headers()) {
            headers.append(h.key()).append('=').append(new String(h.value(), StandardCharsets.UTF_8)).append('\n');
        }
        assertThat(headers).contains("caravan-error-message=").contains(Redaction.MASK);
        assertKeyFree(headers.toString(), key);

        // the provider did quote the key: every request reached it (the 401 one, with no key cooldown, more than once)
        assertThat(upstream.echoes(key) - echoesBefore).isGreaterThanOrEqualTo(5);

        // the log: the broken stream's WARN line carries the redacted text, and no line carries the key
        List<String> lines = logLines();
        assertThat(lines).anyMatch(l -> l.contains("stream broke") && l.contains(model) && l.contains(Redaction.MASK));
        lines.forEach(line -> assertKeyFree(line, key));
    }

    /** Neither the key nor a piece of it long enough to matter. */
    static void assertKeyFree(String text, String key) {
        int mid = key.length() / 2;
        assertThat(text).doesNotContain(key).doesNotContain(key.substring(mid - 6, mid + 6));
    }

    static ConsumerRecord<String, byte[]> only(String topic, String key) {
        List<ConsumerRecord<String, byte[]>> records = TestKafka.readKeys(topic, List.of(key), Duration.ofSeconds(30))
                .stream().filter(r -> key.equals(r.key())).toList();
        assertThat(records).as("record %s on %s", key, topic).hasSize(1);
        return records.get(0);
    }

    static List<String> logLines() {
        List<String> lines = new ArrayList<>();
        for (ILoggingEvent event : List.copyOf(logs.list)) {
            StringBuilder line = new StringBuilder(event.getFormattedMessage());
            for (IThrowableProxy t = event.getThrowableProxy(); t != null; t = t.getCause()) {
                line.append(" | ").append(t.getClassName()).append(": ").append(t.getMessage());
            }
            lines.add(line.toString());
        }
        return lines;
    }

    static JsonNode json(String text) throws Exception {
        return Json.MAPPER.readTree(text);
    }

    static byte[] bytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    static String alnum(int n) {
        String chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(chars.charAt(RANDOM.nextInt(chars.length())));
        }
        return sb.toString();
    }

    static String lower(int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append((char) ('a' + RANDOM.nextInt(26)));
        }
        return sb.toString();
    }
}
