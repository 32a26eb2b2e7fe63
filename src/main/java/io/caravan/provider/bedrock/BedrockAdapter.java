package io.caravan.provider.bedrock;

import static io.caravan.provider.ErrorRule.code;
import static io.caravan.provider.ErrorRule.codeAndMessage;
import static io.caravan.resilience.ErrorClass.AUTH;
import static io.caravan.resilience.ErrorClass.BAD_REQUEST;
import static io.caravan.resilience.ErrorClass.CONTEXT_WINDOW;
import static io.caravan.resilience.ErrorClass.MODEL_NOT_FOUND;
import static io.caravan.resilience.ErrorClass.RATE_LIMITED;
import static io.caravan.resilience.ErrorClass.SERVER_ERROR;
import static io.caravan.resilience.ErrorClass.TIMEOUT;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.AdapterSupport;
import io.caravan.provider.ChatMapping;
import io.caravan.provider.ChatRequest;
import io.caravan.provider.ErrorRule;
import io.caravan.provider.EventStreamReader;
import io.caravan.provider.FramedStream;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.ProviderStream;
import io.caravan.provider.ResponseLimits;
import io.caravan.provider.TokenUsage;
import io.caravan.provider.UpstreamRequest;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Json;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * {@code api: bedrock}: Amazon Bedrock's Converse API ({@code POST /model/{modelId}/converse}, streaming
 * {@code /converse-stream} in AWS's event-stream framing). {@code base_url} defaults to
 * {@code https://bedrock-runtime.{region}.amazonaws.com}; the {@code region} setting is required (it is also the
 * signing region); the model id (or inference-profile id / ARN) is URL-encoded into the path, as the AWS SDK does.
 *
 * <p>Authentication: SigV4 over the final URL and body with the AWS SDK's signer and default credentials chain
 * ({@link AwsSigning}; setting {@code profile} picks a profile), so no {@code api_keys} are needed. A provider that
 * does list {@code api_keys} uses them as Bedrock API keys ({@code Authorization: Bearer}) instead.
 *
 * <p>Request mapping from OpenAI's shape: {@code system}/{@code developer} messages → {@code system}; content
 * strings and text parts → {@code text} blocks, {@code data:} image URLs → {@code image} blocks; assistant
 * {@code tool_calls} → {@code toolUse} blocks; {@code role: tool} → a user turn with a {@code toolResult};
 * consecutive same-role turns merged. {@code max_tokens} → {@code inferenceConfig.maxTokens}, {@code temperature},
 * {@code top_p} → {@code topP}, {@code stop} → {@code stopSequences}; {@code tools} →
 * {@code toolConfig.tools[].toolSpec} and {@code tool_choice} → {@code auto}/{@code any}/{@code tool}.
 *
 * <p>Response: text blocks joined, {@code toolUse} blocks → {@code tool_calls}; {@code stopReason} end_turn and
 * stop_sequence → stop, max_tokens → length, tool_use → tool_calls, guardrail_intervened and content_filtered →
 * content_filter. Usage: {@code inputTokens} excludes the cache, so input = inputTokens + cacheReadInputTokens +
 * cacheWriteInputTokens, cached input = cacheReadInputTokens (priced as {@code cached_input}).
 *
 * <p>Errors are named by {@code x-amzn-ErrorType} (or the body's {@code __type}) and classified with
 * {@link #RULES}: ThrottlingException rate limited; ModelNotReadyException (429, the model is being loaded) a
 * server error, retried then fallen back from; ServiceQuotaExceededException ("resubmit later") rate limited;
 * AccessDenied / UnrecognizedClient / InvalidClientTokenId / InvalidSignature / IncompleteSignature / RequestExpired /
 * ExpiredToken auth (the credentials, not the task); ResourceNotFound model not found; ModelTimeout timeout;
 * ValidationException bad request unless it says the input is too long (context window).
 */
public class BedrockAdapter implements ProviderAdapter {

    public static final String API = "bedrock";

    static final String CONTEXT_WORDING = "input is too long|too many input tokens|prompt is too long"
            + "|maximum context length|context (window|length)|exceeds? the (model's )?maximum";

    /** Error type → class, first match wins; the rest falls to {@link ErrorRule#byStatus}. */
    public static final List<ErrorRule> RULES = List.of(
            code("ThrottlingException", RATE_LIMITED),                     // 429 too many requests or tokens
            code("ModelNotReadyException", SERVER_ERROR),                  // 429 model not ready: retry, then fall back
            code("ServiceQuotaExceededException", RATE_LIMITED),           // 400 "resubmit your request later"
            code("AccessDeniedException", AUTH),                           // 403 no model access
            code("UnrecognizedClientException", AUTH),                     // 403 bad access key
            code("InvalidClientTokenId", AUTH),                            // 403 unknown access key
            code("InvalidSignatureException", AUTH),                       // 403 bad secret / clock
            code("IncompleteSignature", AUTH),                             // 400
            code("RequestExpired", AUTH),                                  // 400 clock skew / stale signature
            code("ExpiredTokenException", AUTH),                           // 403 expired session
            code("NotAuthorized", AUTH),                                   // 400
            code("ResourceNotFoundException", MODEL_NOT_FOUND),            // 404
            code("FTUFormNotFilled", MODEL_NOT_FOUND),                     // 404 Anthropic use-case form not sent
            code("ModelTimeoutException", TIMEOUT),                        // 408
            code("ModelErrorException", SERVER_ERROR),                     // 424
            code("ModelStreamErrorException", SERVER_ERROR),               // 424 in a stream
            code("InternalServerException", SERVER_ERROR),                 // 500
            code("ServiceUnavailableException", SERVER_ERROR),             // 503
            codeAndMessage("ValidationException", CONTEXT_WORDING, CONTEXT_WINDOW),
            code("ValidationException", BAD_REQUEST));

    @Override
    public String api() {
        return API;
    }

    @Override
    public Credentials credentials(ProviderSpec provider) {
        return provider.apiKeys().isEmpty() ? Credentials.CLOUD : Credentials.KEYS;
    }

    @Override
    public String defaultBaseUrl(ProviderSpec provider) {
        String region = provider.setting("region", null);
        return region == null ? null : "https://bedrock-runtime." + region + ".amazonaws.com";
    }

    @Override
    public boolean requiresBaseUrl(ProviderSpec provider) {
        return false; // built from the region, whose absence problems() reports
    }

    @Override
    public List<String> problems(ProviderSpec provider) {
        String region = provider.setting("region", null);
        if (region == null || region.isBlank()) {
            return List.of("api bedrock needs region (e.g. region: us-east-1)");
        }
        if (!Pattern.matches("[a-z]{2}(-[a-z]+)+-\\d+", region)) {
            return List.of("region '" + region + "' is not an AWS region name (e.g. us-east-1)");
        }
        return List.of();
    }

    @Override
    public String credentialIdentity(ProviderSpec provider) {
        return AwsSigning.identity(provider);
    }

    @Override
    public String endpoint(ProviderSpec provider, DeploymentSpec deployment) {
        return AdapterSupport.baseUrl(provider, defaultBaseUrl(provider)) + "/model/" + modelPath(deployment)
                + "/converse";
    }

    @Override
    public String streamEndpoint(ProviderSpec provider, DeploymentSpec deployment) {
        return endpoint(provider, deployment) + "-stream";
    }

    /** The model id as one path segment: {@code :} and {@code /} (inference-profile ARNs) percent-encoded. */
    static String modelPath(DeploymentSpec deployment) {
        return URLEncoder.encode(deployment.model(), StandardCharsets.UTF_8).replace("+", "%20");
    }

    @Override
    public Map<String, String> requestHeaders(ProviderSpec provider, String apiKey) {
        return AdapterSupport.jsonHeaders(provider, "Authorization", apiKey == null ? null : "Bearer " + apiKey);
    }

    /** A Bedrock API key as a bearer token, or else SigV4 over this exact URL and body. */
    @Override
    public Map<String, String> requestHeaders(UpstreamRequest request) {
        ProviderSpec provider = request.provider();
        if (request.apiKey() != null) {
            return requestHeaders(provider, request.apiKey());
        }
        Map<String, String> signedHeaders = new LinkedHashMap<>();
        signedHeaders.put("Content-Type", "application/json");
        Map<String, String> out = new LinkedHashMap<>(signedHeaders);
        out.put("Accept", request.streaming() ? Framing.EVENT_STREAM.mediaType() : "application/json");
        out.putAll(AwsSigning.sign(request.url(), request.body(), signedHeaders, provider.setting("region", null),
                AwsSigning.credentials(provider)));
        return AdapterSupport.headers(provider, out);
    }

    @Override
    public byte[] requestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode params = request.params() == null ? Json.object() : request.params();
        ObjectNode body = Json.object();
        ArrayNode system = Json.array();
        ChatMapping.systemTexts(request.messages()).forEach(text -> system.addObject().put("text", text));
        ArrayNode messages = Json.array();
        for (JsonNode m : ChatMapping.conversation(request.messages())) {
            String role = Json.textOrNull(m, "role");
            String turnRole = "assistant".equals(role) ? "assistant" : "user";
            ArrayNode blocks = Json.array();
            if ("tool".equals(role)) {
                ObjectNode result = blocks.addObject().putObject("toolResult");
                result.put("toolUseId", Json.textOrNull(m, "tool_call_id"));
                result.putArray("content").addObject().put("text", AdapterSupport.text(m.get("content")));
            } else {
                contentBlocks(m.get("content"), blocks);
                JsonNode calls = m.get("tool_calls");
                if ("assistant".equals(role) && calls != null && calls.isArray()) {
                    for (JsonNode call : calls) {
                        ObjectNode use = blocks.addObject().putObject("toolUse");
                        use.put("toolUseId", Json.textOrNull(call, "id"));
                        use.put("name", Json.textOrNull(call.path("function"), "name"));
                        use.set("input", arguments(call.path("function").get("arguments")));
                    }
                }
            }
            ChatMapping.appendTurn(messages, turnRole, "content", blocks);
        }
        body.set("messages", messages);
        if (!system.isEmpty()) {
            body.set("system", system);
        }
        ObjectNode config = Json.object();
        ChatMapping.copyMaxTokens(params, config, "maxTokens");
        ChatMapping.copyNumber(params, "temperature", config, "temperature");
        ChatMapping.copyNumber(params, "top_p", config, "topP");
        ChatMapping.copyStopSequences(params, config);
        if (!config.isEmpty()) {
            body.set("inferenceConfig", config);
        }
        mapTools(params, body);
        return Json.bytes(body);
    }

    private static void contentBlocks(JsonNode content, ArrayNode blocks) {
        if (content != null && content.isArray()) {
            for (JsonNode part : content) {
                if ("image_url".equals(Json.textOrNull(part, "type"))) {
                    String u = ChatMapping.imageUrl(part);
                    if (u != null && u.startsWith("data:image/") && u.contains(";base64,")) {
                        ObjectNode image = blocks.addObject().putObject("image");
                        image.put("format", u.substring(11, u.indexOf(';')).replace("jpg", "jpeg"));
                        image.putObject("source").put("bytes", u.substring(u.indexOf(";base64,") + 8));
                    }
                } else {
                    String t = part.isTextual() ? part.asText() : Json.textOrNull(part, "text");
                    if (t != null && !t.isEmpty()) {
                        blocks.addObject().put("text", t);
                    }
                }
            }
        } else {
            String text = AdapterSupport.text(content);
            if (!text.isEmpty()) {
                blocks.addObject().put("text", text);
            }
        }
    }

    private static JsonNode arguments(JsonNode arguments) {
        if (arguments != null && arguments.isTextual()) {
            JsonNode parsed = AdapterSupport.parseOrNull(arguments.asText().getBytes(StandardCharsets.UTF_8));
            if (parsed != null && parsed.isObject()) {
                return parsed;
            }
        } else if (arguments != null && arguments.isObject()) {
            return arguments.deepCopy();
        }
        return Json.object();
    }

    private static void mapTools(ObjectNode params, ObjectNode body) {
        ArrayNode declarations = AdapterSupport.toolDeclarations(params, (declaration, parameters) ->
                declaration.putObject("inputSchema").set("json",
                        parameters != null && parameters.isObject() ? parameters.deepCopy()
                                : Json.object().put("type", "object")));
        if (declarations == null) {
            return;
        }
        ObjectNode toolConfig = body.putObject("toolConfig");
        ArrayNode tools = toolConfig.putArray("tools");
        declarations.forEach(d -> tools.addObject().set("toolSpec", d));
        JsonNode tc = params.get("tool_choice");
        if (tc != null && tc.isTextual() && ("required".equals(tc.asText()) || "any".equals(tc.asText()))) {
            toolConfig.putObject("toolChoice").putObject("any");
        } else if (tc != null && tc.isObject() && Json.textOrNull(tc.path("function"), "name") != null) {
            toolConfig.putObject("toolChoice").putObject("tool").put("name", Json.textOrNull(tc.path("function"), "name"));
        } else if (tc != null && tc.isTextual() && "auto".equals(tc.asText())) {
            toolConfig.putObject("toolChoice").putObject("auto");
        }
    }

    @Override
    public ProviderReply readResponse(int status, Map<String, Object> headers, byte[] body, DeploymentSpec deployment) {
        if (status < 200 || status >= 300) {
            throw error(status, headers, body);
        }
        JsonNode root = AdapterSupport.parseSuccess(status, body, API);
        JsonNode content = root.path("output").path("message").path("content");
        if (!content.isArray()) {
            throw AdapterSupport.malformed(status, API, "no output.message.content");
        }
        StringBuilder text = new StringBuilder();
        ArrayNode calls = Json.array();
        for (JsonNode block : content) {
            if (block.has("text")) {
                text.append(block.get("text").asText());
            } else if (block.has("toolUse")) {
                JsonNode use = block.get("toolUse");
                ChatMapping.addToolCall(calls, Json.textOrNull(use, "toolUseId"), Json.textOrNull(use, "name"),
                        use.get("input"));
            }
        }
        return new ProviderReply(ChatMapping.assistantMessage(text, calls), finishReason(Json.textOrNull(root, "stopReason"), !calls.isEmpty()),
                usage(root.get("usage")));
    }

    static String finishReason(String stopReason, boolean toolCalls) {
        if (toolCalls || "tool_use".equals(stopReason)) {
            return "tool_calls";
        }
        return switch (stopReason == null ? "" : stopReason) {
            case "max_tokens", "model_context_window_exceeded" -> "length";
            case "guardrail_intervened", "content_filtered" -> "content_filter";
            default -> "stop";
        };
    }

    /** Converse usage: {@code inputTokens} leaves the cache out; cache reads are the cached input. */
    static TokenUsage usage(JsonNode usage) {
        if (usage == null || !usage.isObject()) {
            return TokenUsage.NONE;
        }
        return TokenUsage.cacheApart(Json.longOr(usage, "inputTokens", 0), Json.longOr(usage, "cacheReadInputTokens", 0),
                Json.longOr(usage, "cacheWriteInputTokens", 0), Json.longOr(usage, "outputTokens", 0));
    }

    /** Classifies an error answer: the type from {@code x-amzn-ErrorType} or the body, the body's message. */
    static ProviderError error(int status, Map<String, Object> headers, byte[] body) {
        JsonNode root = AdapterSupport.parseOrNull(body);
        String type = errorType(AdapterSupport.header(headers, "x-amzn-ErrorType"));
        if (type == null && root != null) {
            type = errorType(Json.textOrNull(root, "__type"));
        }
        if (type == null && root != null) {
            type = errorType(Json.textOrNull(root, "code"));
        }
        String text = root == null ? null
                : Json.textOrNull(root, "message") != null ? Json.textOrNull(root, "message")
                : Json.textOrNull(root, "Message");
        if (text != null && text.contains("The Canonical String")) {
            // AWS quotes the canonical request, signed header values (the session token) included: keep its verdict only
            text = text.substring(0, text.indexOf("The Canonical String")).trim();
        }
        List<String> codes = new ArrayList<>();
        codes.add(type);
        return AdapterSupport.classified(API, RULES, status, codes, type, text, body, null, headers);
    }

    /** An exception frame of a stream, classified like the same error as a response (HTTP 200 underneath). */
    static ProviderError streamError(String type, String payload) {
        Map<String, Object> headers = new HashMap<>();
        headers.put("x-amzn-ErrorType", type);
        int status = switch (type == null ? "" : type.toLowerCase(java.util.Locale.ROOT)) {
            case "throttlingexception", "modelnotreadyexception" -> 429;
            case "validationexception", "servicequotaexceededexception" -> 400;
            case "modelstreamerrorexception" -> 424;
            case "modeltimeoutexception" -> 408;
            case "serviceunavailableexception" -> 503;
            default -> 500;
        };
        return error(status, headers, payload.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code ThrottlingException:http://internal.amazon.com/...} or {@code com.amazon...#ThrottlingException}. */
    static String errorType(String raw) {
        if (raw == null || raw.isBlank()) {
            return null;
        }
        String type = raw;
        int colon = type.indexOf(':');
        if (colon > 0) {
            type = type.substring(0, colon);
        }
        int hash = type.lastIndexOf('#');
        if (hash >= 0) {
            type = type.substring(hash + 1);
        }
        type = type.trim();
        // stream exception types come lower-camel (throttlingException): the rules read them in any case
        return type.isEmpty() ? null : type;
    }

    @Override
    public boolean streams() {
        return true;
    }

    @Override
    public Framing streamFraming() {
        return Framing.EVENT_STREAM;
    }

    @Override
    public ProviderStream openStream(InputStream body, Map<String, Object> headers, DeploymentSpec deployment,
            Runnable abort) {
        return new FramedStream(API, body,
                new EventStreamReader(API, body, BedrockAdapter::streamError,
                        ResponseLimits.DEFAULT_MAX_SSE_EVENT_BYTES),
                new ConverseStreamTranslator(), abort);
    }
}
