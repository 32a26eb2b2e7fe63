package io.caravan.intake;

import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.equalToJson;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What a task may carry, on /v1/tasks and Kafka alike: the contract's params (and the catalog's passthrough list)
 * reach the provider, any other param is an invalid_task that never does; metadata is bounded in size and depth
 * and the tenant name in length.
 */
class TaskContentsIntakeTest {

    static WireMockServer upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("oai"))).willReturn(Upstreams.ok("fine")));
        caravan = Caravan.start("""
                providers:
                  oai:
                    api: openai
                    base_url: http://127.0.0.1:%d/oai/v1
                    api_keys: ["sk-test-oai"]
                    retries: 0
                    timeout: 5s
                models:
                  - {name: gpt, provider: oai, model: gpt-4o-mini, price: {input: 0.15, output: 0.60}}
                tiers:
                  fast: {model: gpt}
                default_tier: fast
                routing:
                  params_passthrough: [service_tier]
                """.formatted(upstream.port()), Map.of(),
                Map.of("caravan.task.max-metadata-bytes", "4096", "caravan.task.max-metadata-depth", "4"));
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
    }

    static String task(String id, String params, String metadata) {
        return "{\"id\":\"" + id + "\",\"prompt\":\"marker " + id + "\",\"params\":" + params
                + ",\"metadata\":" + metadata + "}";
    }

    static JsonNode postTask(String body, int expectedStatus) throws Exception {
        HttpResponse<String> r = caravan.post("/v1/tasks", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(expectedStatus);
        return Json.MAPPER.readTree(r.body());
    }

    /** The dead letter and the error result of a Kafka task that is not one. */
    static void assertKafkaInvalid(String id, String body, String messagePart) throws Exception {
        TestKafka.send(caravan.tasksTopic, id, body.getBytes(StandardCharsets.UTF_8), Map.of());
        List<ConsumerRecord<String, byte[]>> dead = TestKafka.readKeys(caravan.dlqTopic, Set.of(id), Duration.ofSeconds(30));
        ConsumerRecord<String, byte[]> letter = dead.stream().filter(r -> id.equals(r.key())).findFirst().orElseThrow();
        assertThat(new String(letter.headers().lastHeader("caravan-error-type").value(), StandardCharsets.UTF_8))
                .isEqualTo("invalid_task");
        assertThat(new String(letter.headers().lastHeader("caravan-error-message").value(), StandardCharsets.UTF_8))
                .contains(messagePart);
        assertThat(new String(letter.value(), StandardCharsets.UTF_8)).isEqualTo(body);
        List<ConsumerRecord<String, byte[]>> results =
                TestKafka.readKeys(caravan.resultsTopic, Set.of(id), Duration.ofSeconds(30));
        JsonNode result = Json.MAPPER.readTree(
                results.stream().filter(r -> id.equals(r.key())).findFirst().orElseThrow().value());
        assertThat(result.path("error").path("type").asText()).isEqualTo("invalid_task");
        assertNeverSentToProvider(id);
    }

    static void assertNeverSentToProvider(String id) {
        upstream.verify(0, postRequestedFor(urlEqualTo(Upstreams.path("oai"))).withRequestBody(containing("marker " + id + "\"")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"n", "store", "logit_bias", "user", "stream"})
    void aParamOffTheListIsRefusedOnHttp(String name) throws Exception {
        String id = "hp-" + name.replace('_', '-');
        JsonNode r = postTask(task(id, "{\"" + name + "\":64}", "{}"), 400);
        assertThat(r.path("error").path("code").asText()).isEqualTo("invalid_task");
        assertThat(r.path("error").path("message").asText()).startsWith("params." + name + " is not accepted");
        assertNeverSentToProvider(id);
    }

    @ParameterizedTest
    @ValueSource(strings = {"n", "store", "service_tier_x"})
    void aParamOffTheListIsADeadLetterFromKafka(String name) throws Exception {
        String id = "kp-" + name.replace('_', '-');
        assertKafkaInvalid(id, task(id, "{\"" + name + "\":true}", "{}"), "params." + name + " is not accepted");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            temperature       | 0.2
            top_p             | 0.9
            stop              | ["END"]
            response_format   | {"type":"json_object"}
            seed              | 7
            frequency_penalty | 0.5
            service_tier      | "flex"
            """)
    void aContractOrPassthroughParamReachesTheProviderVerbatim(String name, String value) throws Exception {
        String id = "ha-" + name.replace('_', '-');
        JsonNode r = postTask(task(id, "{\"" + name + "\":" + value + "}", "{}"), 200);
        assertThat(r.path("status").asText()).isEqualTo("ok");
        upstream.verify(1, postRequestedFor(urlEqualTo(Upstreams.path("oai")))
                .withRequestBody(containing("marker " + id + "\""))
                .withRequestBody(matchingJsonPath("$." + name, Json.MAPPER.readTree(value).isContainerNode()
                        ? equalToJson(value) : equalTo(Json.MAPPER.readTree(value).asText()))));
    }

    @Test
    void aPassthroughParamFromKafkaReachesTheProvider() throws Exception {
        String id = "ka-passthrough";
        TestKafka.send(caravan.tasksTopic, id,
                task(id, "{\"max_tokens\":8,\"service_tier\":\"flex\"}", "{}").getBytes(StandardCharsets.UTF_8), Map.of());
        List<ConsumerRecord<String, byte[]>> results =
                TestKafka.readKeys(caravan.resultsTopic, Set.of(id), Duration.ofSeconds(30));
        JsonNode result = Json.MAPPER.readTree(
                results.stream().filter(r -> id.equals(r.key())).findFirst().orElseThrow().value());
        assertThat(result.path("status").asText()).isEqualTo("ok");
        upstream.verify(1, postRequestedFor(urlEqualTo(Upstreams.path("oai")))
                .withRequestBody(containing("marker " + id + "\""))
                .withRequestBody(matchingJsonPath("$.service_tier", equalTo("flex")))
                .withRequestBody(matchingJsonPath("$.max_tokens", equalTo("8"))));
    }

    @Test
    void theChatEndpointTakesThePassthroughListToo() throws Exception {
        HttpResponse<String> r = caravan.post("/v1/chat/completions", "{\"model\":\"gpt\",\"service_tier\":\"flex\","
                + "\"store\":true,\"messages\":[{\"role\":\"user\",\"content\":\"marker chat-pt\"}]}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        upstream.verify(1, postRequestedFor(urlEqualTo(Upstreams.path("oai")))
                .withRequestBody(containing("marker chat-pt"))
                .withRequestBody(matchingJsonPath("$.service_tier", equalTo("flex")))
                .withRequestBody(matchingJsonPath("$[?(!@.store)]")));
        HttpResponse<String> n = caravan.post("/v1/chat/completions",
                "{\"model\":\"gpt\",\"n\":64,\"messages\":[{\"role\":\"user\",\"content\":\"marker chat-n\"}]}");
        assertThat(n.statusCode()).isEqualTo(400);
    }

    static String metadata(String kind) {
        return switch (kind) {
            case "size" -> "{\"note\":\"" + "x".repeat(5000) + "\"}";
            case "depth" -> "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}";
            case "tenant" -> "{\"tenant\":\"" + "t".repeat(900) + "\"}";
            default -> throw new IllegalArgumentException(kind);
        };
    }

    static String why(String kind) {
        return switch (kind) {
            case "size" -> "over the limit of 4096";
            case "depth" -> "nested deeper than 4 levels";
            default -> "metadata.tenant is 900 characters, over the limit of 128";
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"size", "depth", "tenant"})
    void oversizedMetadataIsRefusedOnHttp(String kind) throws Exception {
        String id = "hm-" + kind;
        JsonNode r = postTask(task(id, "{}", metadata(kind)), 400);
        assertThat(r.path("error").path("code").asText()).isEqualTo("invalid_task");
        assertThat(r.path("error").path("message").asText()).contains(why(kind));
        assertNeverSentToProvider(id);
    }

    @ParameterizedTest
    @ValueSource(strings = {"size", "depth", "tenant"})
    void oversizedMetadataIsADeadLetterFromKafka(String kind) throws Exception {
        String id = "km-" + kind;
        assertKafkaInvalid(id, task(id, "{}", metadata(kind)), why(kind));
    }

    @Test
    void metadataWithinItsBoundsGoesThrough() throws Exception {
        JsonNode r = postTask(task("hm-ok", "{}", "{\"tenant\":\"acme\",\"a\":{\"b\":{\"c\":1}},\"note\":\""
                + "x".repeat(3000) + "\"}"), 200);
        assertThat(r.path("metadata").path("tenant").asText()).isEqualTo("acme");
    }
}
