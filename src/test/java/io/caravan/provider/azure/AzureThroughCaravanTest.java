package io.caravan.provider.azure;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.resilience.KeyPool;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code api: azure-openai} through a whole Caravan against Azure's URL shapes on 127.0.0.1: a key in
 * {@code api-key} on a deployment URL with {@code api-version}; an Entra ID token from a token endpoint on the v1 API;
 * a content-filter refusal that follows {@code content_filter_fallbacks} only; streaming.
 */
class AzureThroughCaravanTest {

    static final String KEY = "azure-key-0123456789abcdef";
    static final String CLIENT_SECRET = "entra-secret-abcdefghijkl";
    static final String DEPLOYMENT_PATH = "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21";
    static final String FILTER = """
            {"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"violence":{"filtered":true,"severity":"medium"}}}}}""";

    static WireMockServer azure;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        azure = Upstreams.start();
        azure.stubFor(post(urlEqualTo(DEPLOYMENT_PATH)).willReturn(Upstreams.ok("from azure")));
        azure.stubFor(post(urlEqualTo(DEPLOYMENT_PATH)).withRequestBody(containing("forbidden words"))
                .willReturn(Upstreams.status(400, FILTER)));
        azure.stubFor(post(urlEqualTo(DEPLOYMENT_PATH)).withRequestBody(containing("\"stream\":true"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/event-stream").withBody("""
                        data: {"id":"c1","object":"chat.completion.chunk","choices":[],"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}

                        data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Azure "},"finish_reason":null}]}

                        data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"streams"},"finish_reason":"stop"}]}

                        data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}

                        data: [DONE]

                        """)));
        azure.stubFor(post(urlEqualTo("/tenant-9/oauth2/v2.0/token")).willReturn(aResponse().withStatus(200)
                .withHeader("Content-Type", "application/json")
                .withBody("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"entra-token-xyz\"}")));
        azure.stubFor(post(urlEqualTo("/openai/v1/chat/completions")).willReturn(Upstreams.ok("from azure v1")));
        caravan = Caravan.start("""
                providers:
                  azure:
                    api: azure-openai
                    base_url: http://127.0.0.1:%1$d
                    api_keys: ["%2$s"]
                    retries: 0
                  azure-entra:
                    api: azure-openai
                    base_url: http://127.0.0.1:%1$d
                    api_version: v1
                    tenant_id: tenant-9
                    client_id: 00000000-aaaa-bbbb-cccc-000000000009
                    client_secret: "%3$s"
                    authority_host: http://127.0.0.1:%1$d
                  sim: {api: simulated}
                models:
                  - {name: gpt, provider: azure, model: gpt-4o-prod, price: {input: 2.5, output: 10}}
                  - {name: gpt-strict, provider: azure, model: gpt-4o-prod, price: {input: 2.5, output: 10}}
                  - {name: gpt-entra, provider: azure-entra, model: gpt-4o-mini-prod, price: {input: 0.15, output: 0.6}}
                  - {name: lenient, provider: sim, model: lenient-1}
                  - {name: other, provider: sim, model: other-1}
                fallbacks:
                  gpt: [other]
                  gpt-strict: [other]
                content_filter_fallbacks:
                  gpt: [lenient]
                tiers:
                  balanced: {model: gpt}
                default_tier: balanced
                """.formatted(azure.port(), KEY, CLIENT_SECRET));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            caravan.close();
        } finally {
            azure.stop();
        }
    }

    @Test
    void aKeyedCallGoesToTheDeploymentUrlWithApiVersionAndTheApiKeyHeader() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks",
                "{\"id\":\"az-1\",\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(response.body()).path("output").path("content").asText()).isEqualTo("from azure");
        azure.verify(postRequestedFor(urlEqualTo(DEPLOYMENT_PATH)).withHeader("api-key", equalTo(KEY))
                .withHeader("Authorization", absent()).withRequestBody(containing("\"content\":\"hello\"")));
    }

    @Test
    void anEntraIdProviderFetchesATokenOnceAndUsesTheV1Api() throws Exception {
        for (String id : List.of("az-2", "az-3")) {
            HttpResponse<String> response = caravan.post("/v1/tasks", "{\"id\":\"" + id
                    + "\",\"model\":\"gpt-entra\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            assertThat(Json.MAPPER.readTree(response.body()).path("output").path("content").asText())
                    .isEqualTo("from azure v1");
        }
        azure.verify(2, postRequestedFor(urlEqualTo("/openai/v1/chat/completions"))
                .withHeader("Authorization", equalTo("Bearer entra-token-xyz")).withHeader("api-key", absent())
                .withRequestBody(matchingJsonPath("$.model", equalTo("gpt-4o-mini-prod"))));
        azure.verify(1, postRequestedFor(urlEqualTo("/tenant-9/oauth2/v2.0/token"))
                .withRequestBody(containing("client_id=00000000-aaaa-bbbb-cccc-000000000009")));
        JsonNode usage = usage("az-3");
        assertThat(usage.path("key_id").asText()).isEqualTo(KeyPool.fingerprint("00000000-aaaa-bbbb-cccc-000000000009"));
        assertThat(usage.toString()).doesNotContain(CLIENT_SECRET).doesNotContain("entra-token-xyz");
    }

    @Test
    void aContentFilterRefusalFollowsOnlyTheContentFilterFallbacks() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks", "{\"id\":\"az-4\",\"model\":\"gpt\","
                + "\"messages\":[{\"role\":\"user\",\"content\":\"forbidden words\"}]}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode result = Json.MAPPER.readTree(response.body());
        assertThat(result.path("model").asText()).isEqualTo("lenient");
        assertThat(result.path("attempts").get(0).path("outcome").asText()).isEqualTo("content_filtered");
        assertThat(result.path("attempts")).hasSize(2);
    }

    @Test
    void withoutContentFilterFallbacksTheRefusalFailsTheTaskInsteadOfFallingBack() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks", "{\"id\":\"az-5\",\"model\":\"gpt-strict\","
                + "\"messages\":[{\"role\":\"user\",\"content\":\"forbidden words\"}]}");
        JsonNode result = Json.MAPPER.readTree(response.body());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        assertThat(result.path("error").path("type").asText()).isEqualTo("content_filtered");
        assertThat(result.path("attempts")).hasSize(1);
    }

    @Test
    void streamsThroughAzure() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/chat/completions",
                "{\"model\":\"gpt\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"s\"}]}");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(io.caravan.support.ChatStream.text(response.body())).isEqualTo("Azure streams");
        azure.verify(postRequestedFor(urlEqualTo(DEPLOYMENT_PATH)).withHeader("api-key", equalTo(KEY))
                .withRequestBody(matchingJsonPath("$.stream_options.include_usage", equalTo("true"))));
    }

    private static JsonNode usage(String taskId) throws Exception {
        List<ConsumerRecord<String, byte[]>> records = TestKafka.readKeys(caravan.usageTopic, List.of(taskId),
                Duration.ofSeconds(30));
        for (ConsumerRecord<String, byte[]> r : records) {
            if (taskId.equals(r.key())) {
                return Json.MAPPER.readTree(new String(r.value(), StandardCharsets.UTF_8));
            }
        }
        throw new AssertionError("no usage event for " + taskId);
    }
}
