package io.caravan.cli;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.CaravanApp;
import io.caravan.Settings;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogLoader;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code caravan batch}: good, malformed and failing lines; resumed after an interruption. */
class BatchCommandTest {

    static WireMockServer upstream;
    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("batched", 1000, 0, 500))));
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("FAIL-ME"))
                .willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.error("Invalid request: nope", "invalid_request_error", null))));
    }

    @AfterAll
    static void stop() {
        upstream.stop();
    }

    Settings settings() throws Exception {
        Path catalog = dir.resolve("catalog.yaml");
        Files.writeString(catalog, """
                providers:
                  kimi:
                    api: openai
                    base_url: http://127.0.0.1:%d/v1
                    api_keys: ["sk-batch-test"]
                    retries: 0
                models:
                  - name: kimi-k2
                    provider: kimi
                    model: kimi-k2-0905-preview
                    price: {input: 1.00, output: 2.00}
                tiers:
                  balanced: {model: kimi-k2}
                default_tier: balanced
                """.formatted(upstream.port()));
        return Settings.load().with("caravan.catalog", catalog.toString());
    }

    static String request(String customId, String content) {
        return "{\"custom_id\":\"" + customId + "\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\","
                + "\"body\":{\"model\":\"kimi-k2\",\"messages\":[{\"role\":\"user\",\"content\":\"" + content
                + "\"}],\"max_tokens\":64}}";
    }

    static List<String> input() {
        return List.of(
                request("req-1", "hello one"),
                request("req-2", "hello two"),
                "{this is not json",
                "{\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{}}",
                request("req-3", "please FAIL-ME"),
                "{\"custom_id\":\"req-4\",\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":{}}",
                request("req-5", "hello five"),
                request("req-6", "hello six"));
    }

    Map<String, JsonNode> byCustomIdOrLine(Path out) throws Exception {
        Map<String, JsonNode> lines = new HashMap<>();
        for (String line : Files.readAllLines(out)) {
            JsonNode node = Json.MAPPER.readTree(line);
            String key = node.path("custom_id").isTextual() ? node.get("custom_id").asText()
                    : "line:" + node.path("error").path("line").asInt();
            assertThat(lines.put(key, node)).as("one line for " + key).isNull();
        }
        return lines;
    }

    @Test
    void goodMalformedAndFailingLinesEachGetAnOutputLine() throws Exception {
        Path in = dir.resolve("in.jsonl");
        Path out = dir.resolve("out.jsonl");
        Files.write(in, input());
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int status = BatchCommand.run(settings(), List.of(in.toString(), "-o", out.toString(), "--concurrency", "4"),
                new PrintStream(stdout, true), new PrintStream(stderr, true));
        assertThat(status).isZero();

        Map<String, JsonNode> lines = byCustomIdOrLine(out);
        assertThat(lines.keySet()).containsExactlyInAnyOrder(
                "req-1", "req-2", "line:3", "line:4", "req-3", "req-4", "req-5", "req-6");
        JsonNode good = lines.get("req-1");
        assertThat(good.path("id").asText()).startsWith("batch_req_");
        assertThat(good.path("error").isNull()).isTrue();
        assertThat(good.path("response").path("status_code").asInt()).isEqualTo(200);
        JsonNode body = good.path("response").path("body");
        assertThat(body.path("object").asText()).isEqualTo("chat.completion");
        assertThat(body.path("choices").get(0).path("message").path("content").asText()).isEqualTo("batched");
        assertThat(body.path("usage").path("prompt_tokens").asInt()).isEqualTo(1000);
        assertThat(body.path("usage").path("completion_tokens").asInt()).isEqualTo(500);

        JsonNode failing = lines.get("req-3");
        assertThat(failing.path("response").path("status_code").asInt()).isEqualTo(400);
        assertThat(failing.path("response").path("body").path("error").path("type").asText())
                .isEqualTo("invalid_request_error");
        assertThat(failing.path("response").path("body").path("error").path("code").asText()).isEqualTo("bad_request");

        assertThat(lines.get("line:3").path("response").isNull()).isTrue();
        assertThat(lines.get("line:3").path("error").path("message").asText()).startsWith("line 3: not JSON");
        assertThat(lines.get("line:4").path("error").path("message").asText()).contains("custom_id");
        assertThat(lines.get("req-4").path("error").path("message").asText()).contains("url");
        assertThat(stderr.toString(StandardCharsets.UTF_8)).contains("line 3", "line 4", "line 6");
        // 4 ok at 1000 in, 500 out at $1 / $2 per 1M: $0.002 each
        assertThat(stdout.toString(StandardCharsets.UTF_8))
                .contains("4 ok", "4 failed", "0 skipped", "cost $0.008000");
    }

    @Test
    void batchAndTheHttpFrontDoorAnswerTheSameFailureAlike() throws Exception {
        Settings settings = settings();
        Path in = dir.resolve("in.jsonl");
        Path out = dir.resolve("out.jsonl");
        Files.write(in, List.of(request("req-3", "please FAIL-ME")));
        int status = BatchCommand.run(settings, List.of(in.toString(), "-o", out.toString()),
                new PrintStream(new ByteArrayOutputStream(), true), new PrintStream(new ByteArrayOutputStream(), true));
        assertThat(status).isZero();
        JsonNode batch = byCustomIdOrLine(out).get("req-3").path("response");

        try (Caravan caravan = Caravan.start(Files.readString(Path.of(settings.get("caravan.catalog"))))) {
            HttpResponse<String> http = caravan.post("/v1/chat/completions", Json.MAPPER.readTree(
                    request("req-3", "please FAIL-ME")).path("body").toString());
            JsonNode httpError = Json.MAPPER.readTree(http.body()).path("error");
            JsonNode batchError = batch.path("body").path("error");

            assertThat(batch.path("status_code").asInt()).isEqualTo(http.statusCode()).isEqualTo(400);
            assertThat(batchError.path("type").asText()).isEqualTo(httpError.path("type").asText());
            assertThat(batchError.path("code").asText()).isEqualTo(httpError.path("code").asText());
        }
    }

    @Test
    void aResumedRunProcessesOnlyWhatIsNotInTheOutputYet() throws Exception {
        Path in = dir.resolve("in.jsonl");
        Path out = dir.resolve("out.jsonl");
        Files.write(in, input());
        // an earlier run wrote two results and the malformed line 3, then was killed mid-line
        String partial = String.join("\n",
                "{\"id\":\"batch_req_a\",\"custom_id\":\"req-1\",\"response\":{\"status_code\":200,\"body\":{}},\"error\":null}",
                "{\"id\":\"batch_req_b\",\"custom_id\":\"req-5\",\"response\":{\"status_code\":200,\"body\":{}},\"error\":null}",
                "{\"id\":\"batch_req_c\",\"custom_id\":null,\"response\":null,\"error\":{\"code\":\"invalid_request\",\"message\":\"line 3: not JSON\",\"line\":3}}",
                "{\"id\":\"batch_req_d\",\"custom_id\":\"req-6\",\"resp");
        Files.writeString(out, partial);
        upstream.resetRequests();
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        int status = BatchCommand.run(settings(), List.of(in.toString(), "-o", out.toString()),
                new PrintStream(stdout, true), new PrintStream(new ByteArrayOutputStream(), true));
        assertThat(status).isZero();
        // req-2, req-3 (fails) and req-6 (its line was cut short) reach the provider; req-1 and req-5 do not
        upstream.verify(3, postRequestedFor(urlEqualTo("/v1/chat/completions")));
        assertThat(stdout.toString(StandardCharsets.UTF_8)).contains("2 ok", "3 failed", "3 skipped");
        List<String> all = Files.readAllLines(out);
        // the cut line stays as it was; every request has its complete line
        Map<String, Integer> count = new HashMap<>();
        for (String line : all) {
            try {
                JsonNode node = Json.MAPPER.readTree(line);
                String key = node.path("custom_id").isTextual() ? node.get("custom_id").asText()
                        : "line:" + node.path("error").path("line").asInt();
                count.merge(key, 1, Integer::sum);
            } catch (Exception e) {
                assertThat(line).startsWith("{\"id\":\"batch_req_d\"");
            }
        }
        assertThat(count).containsOnlyKeys("req-1", "req-2", "line:3", "line:4", "req-3", "req-4", "req-5", "req-6");
        assertThat(count.values()).containsOnly(1);
    }

    @Test
    void withoutABrokerNoRouteThatTalksToKafkaIsEvenLoaded() throws Exception {
        Settings settings = settings();
        assertThat(settings.get("kafka.bootstrap-servers")).isNull();
        Catalog catalog = CatalogLoader.load(Path.of(settings.get("caravan.catalog")));
        // a loaded route's Kafka producers start even when the route does not: each kept calling for a broker
        CaravanApp app = new CaravanApp(BatchCommand.batchSettings(settings), catalog, null).start();
        try {
            assertThat(app.camelContext().getEndpoints()).extracting(e -> e.getEndpointUri())
                    .isNotEmpty().noneMatch(uri -> uri.startsWith("kafka:"));
            assertThat(app.camelContext().getRoute("task")).isNotNull();
        } finally {
            app.close();
        }
    }

    @Test
    void aMissingCatalogIsOneLineNamingWhereItWasLookedFor() throws Exception {
        Path in = dir.resolve("in.jsonl");
        Files.write(in, List.of(request("req-1", "hello")));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = BatchCommand.run(settings().with("caravan.catalog", "no-such-catalog.yaml"),
                List.of(in.toString(), "-o", dir.resolve("out.jsonl").toString()),
                new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(status).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8).strip()).isEqualTo("caravan batch: no catalog at "
                + Path.of("no-such-catalog.yaml").toAbsolutePath()
                + " (a relative caravan.catalog is read from the folder you run in; name one with --catalog FILE)");
        assertThat(dir.resolve("out.jsonl")).doesNotExist();
    }
}
