package io.caravan.provider.bedrock;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

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
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code api: bedrock} through a whole Caravan against a Bedrock on 127.0.0.1 that recomputes every SigV4
 * signature: Converse answers with cached tokens priced as cached input, ConverseStream in event-stream frames
 * streamed to an OpenAI-shaped caller, throttling falling back to an OpenAI-compatible group, and usage events
 * naming the credentials by the access key id's fingerprint, never by the secret.
 */
class BedrockThroughCaravanTest {

    static final String ACCESS_KEY = "AKIATESTBEDROCK00001";
    static final String SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYTESTSECRETKEY";
    static final String SESSION = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";
    static final String SONNET = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0";

    static BedrockUpstream bedrock;
    static WireMockServer kimi;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        // the first link of the AWS SDK's default chain: system properties (the environment works the same way)
        System.setProperty("aws.accessKeyId", ACCESS_KEY);
        System.setProperty("aws.secretAccessKey", SECRET);
        System.setProperty("aws.sessionToken", SESSION);
        bedrock = new BedrockUpstream(Map.of(ACCESS_KEY, SECRET), SESSION, path -> switch (path) {
            case SONNET + "/converse" -> BedrockUpstream.json(200, """
                    {"output":{"message":{"role":"assistant","content":[{"text":"Bonjour from Bedrock."}]}},
                     "stopReason":"end_turn",
                     "usage":{"inputTokens":100,"outputTokens":20,"totalTokens":1020,
                              "cacheReadInputTokens":900,"cacheWriteInputTokens":0},
                     "metrics":{"latencyMs":321}}""", null);
            case SONNET + "/converse-stream" -> BedrockUpstream.events(
                    "messageStart", "{\"role\":\"assistant\",\"p\":\"abc\"}",
                    "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hello \"},\"p\":\"ab\"}",
                    "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"stream\"}}",
                    "contentBlockStop", "{\"contentBlockIndex\":0}",
                    "messageStop", "{\"stopReason\":\"end_turn\"}",
                    "metadata", "{\"usage\":{\"inputTokens\":12,\"outputTokens\":2,\"totalTokens\":14},\"metrics\":{\"latencyMs\":90}}");
            default -> BedrockUpstream.json(429, "{\"message\":\"Too many requests, please wait before trying again.\"}",
                    "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/");
        });
        kimi = Upstreams.start();
        kimi.stubFor(post(urlEqualTo("/moonshot/v1/chat/completions")).willReturn(Upstreams.ok("from kimi")));
        caravan = Caravan.start("""
                providers:
                  aws:
                    api: bedrock
                    region: us-east-1
                    base_url: http://127.0.0.1:%d
                    retries: 0
                  moonshot:
                    api: openai
                    base_url: http://127.0.0.1:%d/moonshot/v1
                    api_keys: ["sk-kimi-test"]
                models:
                  - {name: claude, provider: aws, model: "anthropic.claude-3-5-sonnet-20240620-v1:0",
                     price: {input: 3.0, cached_input: 0.30, output: 15.0}}
                  - {name: busy-claude, provider: aws, model: "anthropic.claude-3-haiku-20240307-v1:0",
                     price: {input: 0.25, output: 1.25}}
                  - {name: kimi, provider: moonshot, model: kimi-k2-0905-preview, price: {input: 0.6, output: 2.5}}
                fallbacks:
                  busy-claude: [kimi]
                tiers:
                  balanced: {model: claude}
                default_tier: balanced
                """.formatted(bedrock.port(), kimi.port()));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            caravan.close();
        } finally {
            bedrock.close();
            kimi.stop();
            System.clearProperty("aws.accessKeyId");
            System.clearProperty("aws.secretAccessKey");
            System.clearProperty("aws.sessionToken");
        }
    }

    @Test
    void aSignedConverseCallAnswersAndCacheReadsArePricedAsCachedInput() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks", """
                {"id":"bedrock-1","model":"claude","messages":[{"role":"system","content":"Be brief."},
                 {"role":"user","content":"Say bonjour"}],"params":{"max_tokens":64,"temperature":0.1}}""");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode result = Json.MAPPER.readTree(response.body());
        assertThat(result.path("output").path("content").asText()).isEqualTo("Bonjour from Bedrock.");
        assertThat(result.path("usage").path("input_tokens").asLong()).isEqualTo(1000);
        assertThat(result.path("usage").path("cached_input_tokens").asLong()).isEqualTo(900);
        assertThat(result.path("usage").path("cost_usd").asDouble())
                .isCloseTo((100 * 3.0 + 900 * 0.30 + 20 * 15.0) / 1_000_000.0, within(1e-9));

        BedrockUpstream.Seen call = bedrock.seen.stream().filter(s -> s.body().contains("Say bonjour")).findFirst()
                .orElseThrow();
        assertThat(call.signatureValid()).as("signature recomputed by the server matches").isTrue();
        assertThat(call.rawPath()).isEqualTo(SONNET + "/converse");
        JsonNode body = Json.MAPPER.readTree(call.body());
        assertThat(body.path("system").get(0).path("text").asText()).isEqualTo("Be brief.");
        assertThat(body.path("messages").get(0).path("content").get(0).path("text").asText()).isEqualTo("Say bonjour");
        assertThat(body.path("inferenceConfig").path("maxTokens").asInt()).isEqualTo(64);

        JsonNode usage = usageEvent("bedrock-1").get(0);
        assertThat(usage.path("key_id").asText()).isEqualTo(KeyPool.fingerprint(ACCESS_KEY));
        assertThat(usage.path("provider").asText()).isEqualTo("aws");
    }

    @Test
    void conversesAsAStreamDecodedFromEventStreamFrames() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/chat/completions", """
                {"model":"claude","stream":true,"messages":[{"role":"user","content":"stream please"}]}""");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(io.caravan.support.ChatStream.text(response.body())).isEqualTo("Hello stream");
        assertThat(response.body()).contains("\"finish_reason\":\"stop\"").contains("data: [DONE]");
        BedrockUpstream.Seen call = bedrock.seen.stream().filter(s -> s.body().contains("stream please")).findFirst()
                .orElseThrow();
        assertThat(call.rawPath()).isEqualTo(SONNET + "/converse-stream");
        assertThat(call.signatureValid()).isTrue();
        assertThat(call.headers().get("Accept")).containsExactly("application/vnd.amazon.eventstream");
    }

    @Test
    void throttledBedrockFallsBackToTheOpenAiCompatibleGroup() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks", """
                {"id":"bedrock-2","model":"busy-claude","messages":[{"role":"user","content":"hello"}]}""");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode result = Json.MAPPER.readTree(response.body());
        assertThat(result.path("provider").asText()).isEqualTo("moonshot");
        assertThat(result.path("output").path("content").asText()).isEqualTo("from kimi");
        assertThat(result.path("attempts").get(0).path("outcome").asText()).isEqualTo("rate_limited");
        assertThat(result.path("attempts").get(0).path("status").asInt()).isEqualTo(429);
        assertThat(result.path("fallback").asBoolean()).isTrue();
    }

    @Test
    void noSecretOrSignatureReachesTheUsageTopic() throws Exception {
        caravan.post("/v1/tasks", """
                {"id":"bedrock-3","model":"claude","messages":[{"role":"user","content":"x"}]}""");
        String usage = usageEvent("bedrock-3").toString();
        assertThat(usage).doesNotContain(SECRET).doesNotContain(SESSION).doesNotContain("Signature=")
                .doesNotContain(ACCESS_KEY);
    }

    private static List<JsonNode> usageEvent(String taskId) throws Exception {
        List<ConsumerRecord<String, byte[]>> records = TestKafka.readKeys(caravan.usageTopic, List.of(taskId),
                Duration.ofSeconds(30));
        List<JsonNode> out = new java.util.ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : records) {
            if (taskId.equals(r.key())) {
                out.add(Json.MAPPER.readTree(new String(r.value(), StandardCharsets.UTF_8)));
            }
        }
        assertThat(out).isNotEmpty();
        return out;
    }
}
