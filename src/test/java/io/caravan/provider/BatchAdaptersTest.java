package io.caravan.provider;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.anthropic.AnthropicBatchAdapter;
import io.caravan.provider.gemini.GeminiBatchAdapter;
import io.caravan.resilience.ErrorClass;
import io.caravan.util.Json;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Anthropic and Gemini batch adapters against servers on 127.0.0.1 answering as their APIs document: what is
 * sent, how a status reads, and how each kind of result row maps to an answer or an error class.
 */
class BatchAdaptersTest {

    HttpServer server;
    final Map<String, String> answers = new ConcurrentHashMap<>();
    final Map<String, String> received = new ConcurrentHashMap<>();
    final BatchHttp http = new BatchHttp(Duration.ofSeconds(5), 1 << 20);

    @BeforeEach
    void start() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", ex -> {
            try (ex) {
                String key = ex.getRequestMethod() + " " + ex.getRequestURI().getPath();
                received.put(key, new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
                received.put(key + " headers", new java.util.TreeMap<>(ex.getRequestHeaders()).toString());
                String body = answers.getOrDefault(key, "{\"error\":{\"message\":\"not here\"}}");
                byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(answers.containsKey(key) ? 200 : 404, bytes.length);
                ex.getResponseBody().write(bytes);
            }
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    static ProviderSpec provider(String api, String base) {
        return new ProviderSpec("p", api, base, List.of("sk-adapter-test"), Map.of(), Duration.ofSeconds(5), 0,
                Duration.ofMillis(1), null, null, Map.of());
    }

    static final DeploymentSpec DEPLOYMENT = new DeploymentSpec("m#0", "m", "p", "model-x", null, null, Price.FREE, 1);

    static ChatRequest request(String text) {
        var messages = Json.array();
        messages.addObject().put("role", "user").put("content", text);
        return new ChatRequest(messages, Json.object());
    }

    static List<byte[]> drain(Iterator<byte[]> rows) {
        List<byte[]> out = new ArrayList<>();
        rows.forEachRemaining(out::add);
        return out;
    }

    @Test
    void anthropicMessageBatches() throws Exception {
        AnthropicBatchAdapter adapter = new AnthropicBatchAdapter(1 << 20);
        ProviderSpec p = provider("anthropic", base());
        answers.put("POST /v1/messages/batches", "{\"id\":\"msgbatch_1\",\"type\":\"message_batch\","
                + "\"processing_status\":\"in_progress\"}");
        String id = adapter.submit(http, p, DEPLOYMENT, "sk-adapter-test",
                List.of(adapter.entry("c0", request("hello"), p, DEPLOYMENT)), "cb-1", Duration.ofHours(24));
        assertThat(id).isEqualTo("msgbatch_1");
        JsonNode sent = Json.MAPPER.readTree(received.get("POST /v1/messages/batches"));
        assertThat(sent.at("/requests/0/custom_id").asText()).isEqualTo("c0");
        assertThat(sent.at("/requests/0/params/model").asText()).isEqualTo("model-x");
        assertThat(sent.at("/requests/0/params/messages/0/content").toString()).contains("hello");
        assertThat(received.get("POST /v1/messages/batches headers")).containsIgnoringCase("x-api-key")
                .contains("2023-06-01");

        answers.put("GET /v1/messages/batches/msgbatch_1", "{\"id\":\"msgbatch_1\",\"processing_status\":\"ended\","
                + "\"results_url\":\"" + base() + "/results/msgbatch_1\"}");
        BatchAdapter.Status status = adapter.status(http, p, DEPLOYMENT, "sk-adapter-test", "msgbatch_1");
        assertThat(status.phase()).isEqualTo(BatchAdapter.Phase.COMPLETED);
        answers.put("GET /results/msgbatch_1", String.join("\n",
                "{\"custom_id\":\"c2\",\"result\":{\"type\":\"expired\"}}",
                "{\"custom_id\":\"c1\",\"result\":{\"type\":\"errored\",\"error\":{\"type\":\"error\",\"error\":"
                        + "{\"type\":\"invalid_request_error\",\"message\":\"max_tokens: too large\"}}}}",
                "{\"custom_id\":\"c0\",\"result\":{\"type\":\"succeeded\",\"message\":{\"id\":\"msg_1\",\"type\":"
                        + "\"message\",\"role\":\"assistant\",\"model\":\"model-x\",\"content\":[{\"type\":\"text\","
                        + "\"text\":\"hi there\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":10,"
                        + "\"cache_read_input_tokens\":4,\"output_tokens\":3}}}}"));
        List<byte[]> rows = drain(adapter.results(http, p, DEPLOYMENT, "sk-adapter-test", status));
        assertThat(rows).hasSize(3);
        BatchAdapter.Row expired = adapter.row(rows.get(0), DEPLOYMENT);
        assertThat(expired.customId()).isEqualTo("c2");
        assertThat(expired.error().errorClass()).isEqualTo(ErrorClass.TIMEOUT);
        BatchAdapter.Row errored = adapter.row(rows.get(1), DEPLOYMENT);
        assertThat(errored.error().errorClass()).isEqualTo(ErrorClass.BAD_REQUEST);
        BatchAdapter.Row ok = adapter.row(rows.get(2), DEPLOYMENT);
        assertThat(ok.reply().message().get("content").asText()).isEqualTo("hi there");
        // Anthropic's input_tokens leaves out cache reads: normalised as online
        assertThat(ok.reply().usage().input()).isEqualTo(14);
        assertThat(ok.reply().usage().cachedInput()).isEqualTo(4);
    }

    @Test
    void geminiBatchModeInline() throws Exception {
        GeminiBatchAdapter adapter = new GeminiBatchAdapter();
        ProviderSpec p = provider("gemini", base());
        answers.put("POST /v1beta/models/model-x:batchGenerateContent", "{\"name\":\"batches/42\",\"metadata\":"
                + "{\"state\":\"BATCH_STATE_PENDING\"}}");
        String name = adapter.submit(http, p, DEPLOYMENT, "sk-adapter-test",
                List.of(adapter.entry("c0", request("hello"), p, DEPLOYMENT),
                        adapter.entry("c1", request("again"), p, DEPLOYMENT)), "cb-2", Duration.ofHours(24));
        assertThat(name).isEqualTo("batches/42");
        JsonNode sent = Json.MAPPER.readTree(received.get("POST /v1beta/models/model-x:batchGenerateContent"));
        assertThat(sent.at("/batch/input_config/requests/requests/1/metadata/key").asText()).isEqualTo("c1");
        assertThat(sent.at("/batch/input_config/requests/requests/0/request/contents/0/parts/0/text").asText())
                .isEqualTo("hello");

        answers.put("GET /v1beta/batches/42", "{\"name\":\"batches/42\",\"metadata\":{\"state\":"
                + "\"BATCH_STATE_SUCCEEDED\"},\"done\":true,\"response\":{\"inlinedResponses\":{\"inlinedResponses\":["
                + "{\"response\":{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"hi\"}]},"
                + "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":7,\"candidatesTokenCount\":2}}},"
                + "{\"error\":{\"code\":3,\"message\":\"Invalid argument\",\"status\":\"INVALID_ARGUMENT\"}}]}}}");
        BatchAdapter.Status status = adapter.status(http, p, DEPLOYMENT, "sk-adapter-test", "batches/42");
        assertThat(status.phase()).isEqualTo(BatchAdapter.Phase.COMPLETED);
        List<byte[]> rows = drain(adapter.results(http, p, DEPLOYMENT, "sk-adapter-test", status));
        BatchAdapter.Row ok = adapter.row(rows.get(0), DEPLOYMENT);
        assertThat(ok.customId()).isEqualTo("c0");
        assertThat(ok.reply().message().get("content").asText()).isEqualTo("hi");
        assertThat(ok.reply().usage().input()).isEqualTo(7);
        BatchAdapter.Row bad = adapter.row(rows.get(1), DEPLOYMENT);
        assertThat(bad.customId()).isEqualTo("c1");
        assertThat(bad.error().errorClass()).isEqualTo(ErrorClass.BAD_REQUEST);

        answers.put("GET /v1beta/batches/43", "{\"name\":\"batches/43\",\"metadata\":{\"state\":\"BATCH_STATE_EXPIRED\"}}");
        assertThat(adapter.status(http, p, DEPLOYMENT, "sk-adapter-test", "batches/43").phase())
                .isEqualTo(BatchAdapter.Phase.ENDED_EARLY);
    }
}
