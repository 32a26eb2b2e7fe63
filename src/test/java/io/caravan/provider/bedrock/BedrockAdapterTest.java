package io.caravan.provider.bedrock;

import static io.caravan.provider.Fixtures.bytes;
import static io.caravan.provider.Fixtures.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.Fixtures;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderAdapters;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.ProviderStream;
import io.caravan.provider.StreamDelta;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BedrockAdapterTest {

    private final BedrockAdapter adapter = new BedrockAdapter();
    private final ProviderSpec aws = new ProviderSpec("aws", "bedrock", null, List.of(), Map.of(),
            ProviderSpec.DEFAULT_TIMEOUT, 0, ProviderSpec.DEFAULT_BACKOFF, null, null, Map.of("region", "eu-west-3"));
    private final DeploymentSpec arn = Fixtures.deployment("aws",
            "arn:aws:bedrock:eu-west-3:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-20250514-v1:0", 1024,
            new Price(3.0, 0.3, 15.0));

    @Test
    void isFoundByServiceLoaderAndNeedsNoKeysButARegion() {
        assertThat(ProviderAdapters.forApi("bedrock")).isInstanceOf(BedrockAdapter.class);
        assertThat(adapter.credentials(aws)).isEqualTo(ProviderAdapter.Credentials.CLOUD);
        assertThat(adapter.problems(aws)).isEmpty();
        ProviderSpec noRegion = new ProviderSpec("aws", "bedrock", null, List.of(), Map.of(),
                ProviderSpec.DEFAULT_TIMEOUT, 0, ProviderSpec.DEFAULT_BACKOFF, null, null, Map.of());
        assertThat(adapter.problems(noRegion)).containsExactly("api bedrock needs region (e.g. region: us-east-1)");
    }

    @Test
    void theRegionMakesTheHostAndTheModelIdIsOnePathSegment() {
        assertThat(adapter.endpoint(aws, arn)).isEqualTo("https://bedrock-runtime.eu-west-3.amazonaws.com/model/"
                + "arn%3Aaws%3Abedrock%3Aeu-west-3%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-sonnet-4-20250514-v1%3A0/converse");
        assertThat(adapter.streamEndpoint(aws, arn)).endsWith("/converse-stream");
    }

    @Test
    void mapsOpenAiMessagesToolsAndParamsToConverse() {
        var request = Fixtures.request("""
                [{"role":"system","content":"Be terse."},{"role":"user","content":"Weather?"},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function",
                   "function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]},
                 {"role":"tool","tool_call_id":"t1","content":"sunny"}]""", """
                {"max_tokens":200,"temperature":0.5,"top_p":0.9,"stop":"END","tool_choice":"required",
                 "tools":[{"type":"function","function":{"name":"get_weather","description":"w",
                   "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}""");
        JsonNode body = json(adapter.requestBody(request, aws, arn));
        assertThat(body).isEqualTo(json("""
                {"messages":[{"role":"user","content":[{"text":"Weather?"}]},
                  {"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{"city":"Paris"}}}]},
                  {"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"sunny"}]}}]}],
                 "system":[{"text":"Be terse."}],
                 "inferenceConfig":{"maxTokens":200,"temperature":0.5,"topP":0.9,"stopSequences":["END"]},
                 "toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","description":"w",
                   "inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}}}}}}],
                   "toolChoice":{"any":{}}}}"""));
    }

    @Test
    void readsToolUseAndPricesCacheReadsAsCachedInput() {
        ProviderReply reply = adapter.readResponse(200, Map.of(), bytes("""
                {"output":{"message":{"role":"assistant","content":[{"text":"Checking."},
                  {"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}}]}},
                 "stopReason":"tool_use",
                 "usage":{"inputTokens":10,"outputTokens":5,"totalTokens":1015,"cacheReadInputTokens":1000,
                          "cacheWriteInputTokens":0}}"""), arn);
        assertThat(reply.finishReason()).isEqualTo("tool_calls");
        assertThat(reply.message().path("tool_calls").get(0).path("function").path("arguments").asText())
                .isEqualTo("{\"city\":\"Paris\"}");
        assertThat(reply.usage().input()).isEqualTo(1010);
        assertThat(reply.usage().cachedInput()).isEqualTo(1000);
        assertThat(reply.usage().output()).isEqualTo(5);
    }

    /** Error bodies and types as Bedrock Runtime documents them (x-amzn-ErrorType carries the type). */
    @ParameterizedTest(name = "{0} {1} -> {3}")
    @CsvSource(delimiter = '|', textBlock = """
            429 | ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/ | {"message":"Too many requests, please wait before trying again."} | RATE_LIMITED
            429 | ModelNotReadyException | {"message":"The model is not ready to serve inference requests. The AWS SDK will automatically retry the operation up to 5 times."} | SERVER_ERROR
            400 | ServiceQuotaExceededException | {"message":"Your request exceeds the service quota for your account. You can resubmit your request later."} | RATE_LIMITED
            403 | AccessDeniedException | {"message":"You don't have access to the model with the specified model ID."} | AUTH
            403 | UnrecognizedClientException | {"message":"The security token included in the request is invalid."} | AUTH
            403 | InvalidSignatureException | {"message":"The request signature we calculated does not match the signature you provided."} | AUTH
            403 | ExpiredTokenException | {"message":"The security token included in the request is expired"} | AUTH
            404 | ResourceNotFoundException | {"message":"Could not resolve the foundation model from the provided model identifier."} | MODEL_NOT_FOUND
            404 | FTUFormNotFilled | {"message":"Model use case details have not been submitted for this account."} | MODEL_NOT_FOUND
            408 | ModelTimeoutException | {"message":"Model has timed out in processing the request."} | TIMEOUT
            424 | ModelErrorException | {"message":"The model produced an invalid response."} | SERVER_ERROR
            500 | InternalServerException | {"message":"Internal server error"} | SERVER_ERROR
            503 | ServiceUnavailableException | {"message":"Bedrock is unable to process your request."} | SERVER_ERROR
            400 | ValidationException | {"message":"Input is too long for requested model."} | CONTEXT_WINDOW
            400 | ValidationException | {"message":"The model returned the following errors: prompt is too long: 210000 tokens > 200000 maximum"} | CONTEXT_WINDOW
            400 | ValidationException | {"message":"The provided model identifier is invalid."} | BAD_REQUEST
            400 | ValidationException | {"message":"Malformed input request: #: extraneous key [foo] is not permitted"} | BAD_REQUEST
            """)
    void classifiesDocumentedErrors(int status, String type, String body, ErrorClass expected) {
        ProviderError error = Fixtures.failure(adapter, status, Map.of("X-Amzn-ErrorType", type), body, arn);
        assertThat(error.errorClass()).isEqualTo(expected);
        assertThat(error.status()).isEqualTo(status);
    }

    @Test
    void aSignatureMismatchKeepsItsVerdictButNotTheCanonicalRequestAwsQuotes() {
        String token = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexampleSESSIONtoken";
        ProviderError error = Fixtures.failure(adapter, 403, Map.of("x-amzn-ErrorType", "InvalidSignatureException"),
                "{\"message\":\"The request signature we calculated does not match the signature you provided. Check your "
                        + "AWS Secret Access Key and signing method. Consult the service documentation for details.\\n\\n"
                        + "The Canonical String for this request should have been\\n'POST\\n/model/x/converse\\n\\n"
                        + "content-type:application/json\\nx-amz-security-token:" + token + "\\n'\"}", arn);
        assertThat(error.errorClass()).isEqualTo(ErrorClass.AUTH);
        assertThat(error.getMessage()).contains("signature we calculated does not match").doesNotContain(token)
                .doesNotContain("Canonical");
    }

    @Test
    void anErrorTypeInTheBodyAloneIsReadToo() {
        ProviderError error = Fixtures.failure(adapter, 400, Map.of(),
                "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":\"Input is too long for requested model.\"}", arn);
        assertThat(error.errorClass()).isEqualTo(ErrorClass.CONTEXT_WINDOW);
    }

    @Test
    void streamsTextAndToolCallsFromFramesAndReadsUsageFromMetadata() throws Exception {
        ProviderStream stream = open(frames(
                "messageStart", "{\"role\":\"assistant\"}",
                "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}",
                "contentBlockStart", "{\"contentBlockIndex\":1,\"start\":{\"toolUse\":{\"toolUseId\":\"t9\",\"name\":\"f\"}}}",
                "contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":\"{\\\"a\\\":\"}}}",
                "contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":\"1}\"}}}",
                "messageStop", "{\"stopReason\":\"tool_use\"}",
                "metadata", "{\"usage\":{\"inputTokens\":3,\"outputTokens\":4,\"cacheReadInputTokens\":7}}"));
        List<StreamDelta> deltas = drain(stream);
        assertThat(deltas.get(0).delta().path("role").asText()).isEqualTo("assistant");
        assertThat(deltas.get(0).delta().path("content").asText()).isEqualTo("Hi");
        assertThat(deltas.get(1).delta().path("tool_calls").get(0).path("id").asText()).isEqualTo("t9");
        StringBuilder args = new StringBuilder();
        deltas.forEach(d -> d.delta().path("tool_calls").forEach(c -> args.append(c.path("function").path("arguments").asText())));
        assertThat(args.toString()).isEqualTo("{\"a\":1}");
        assertThat(deltas.get(deltas.size() - 1).finishReason()).isEqualTo("tool_calls");
        assertThat(stream.usage().input()).isEqualTo(10);
        assertThat(stream.usage().cachedInput()).isEqualTo(7);
    }

    @Test
    void anExceptionFrameIsClassifiedLikeTheSameErrorResponse() {
        ProviderStream stream = open(frames("messageStart", "{\"role\":\"assistant\"}",
                "!throttlingException", "{\"message\":\"Too many tokens, please wait before trying again.\"}"));
        assertThatThrownBy(stream::peek).isInstanceOfSatisfying(ProviderError.class,
                e -> assertThat(e.errorClass()).isEqualTo(ErrorClass.RATE_LIMITED));
    }

    @Test
    void aFrameWithABrokenChecksumIsAServerErrorNotText() {
        byte[] good = frames("messageStart", "{\"role\":\"assistant\"}",
                "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hello\"}}");
        good[good.length - 10] ^= 0x20; // flips a bit of the second frame's payload: its message CRC no longer matches
        ProviderStream stream = open(good);
        assertThatThrownBy(() -> drain(stream)).isInstanceOfSatisfying(ProviderError.class,
                e -> assertThat(e.getMessage()).contains("checksum"));
    }

    @Test
    void aFrameLongerThanItsBoundFailsBeforeItIsBuffered() {
        byte[] huge = new byte[] {0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; // a prelude announcing ~2 GB
        ProviderStream stream = open(huge);
        assertThatThrownBy(stream::peek).isInstanceOfSatisfying(ProviderError.class,
                e -> assertThat(e.errorClass()).isEqualTo(ErrorClass.RESPONSE_TOO_LARGE));
    }

    @Test
    void aStreamCutBeforeMessageStopIsBrokenNotShort() {
        ProviderStream stream = open(frames("messageStart", "{\"role\":\"assistant\"}",
                "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hel\"}}"));
        assertThatThrownBy(() -> drain(stream)).isInstanceOfSatisfying(ProviderError.class,
                e -> assertThat(e.errorClass()).isEqualTo(ErrorClass.SERVER_ERROR));
    }

    private ProviderStream open(byte[] body) {
        return adapter.openStream(new ByteArrayInputStream(body), Map.of(), arn, () -> { });
    }

    private static byte[] frames(String... nameAndPayload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < nameAndPayload.length; i += 2) {
            BedrockUpstream.frame(nameAndPayload[i], nameAndPayload[i + 1]).encode(out);
        }
        return out.toByteArray();
    }

    private static List<StreamDelta> drain(ProviderStream stream) throws Exception {
        List<StreamDelta> out = new ArrayList<>();
        for (StreamDelta d = stream.next(); d != null; d = stream.next()) {
            out.add(d);
        }
        return out;
    }
}
