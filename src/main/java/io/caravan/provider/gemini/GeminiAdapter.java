package io.caravan.provider.gemini;

import static io.caravan.provider.ErrorRule.code;
import static io.caravan.provider.ErrorRule.codeAndMessage;
import static io.caravan.provider.ErrorRule.message;
import static io.caravan.resilience.ErrorClass.AUTH;
import static io.caravan.resilience.ErrorClass.BAD_REQUEST;
import static io.caravan.resilience.ErrorClass.CONTEXT_WINDOW;
import static io.caravan.resilience.ErrorClass.MODEL_NOT_FOUND;
import static io.caravan.resilience.ErrorClass.QUOTA_EXHAUSTED;
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
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.TokenUsage;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Json;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code api: gemini}: the Google Gemini API (Google AI Studio keys).
 * {@code POST {base_url}/v1beta/models/{model}:generateContent} ({@code base_url} is the host root, default
 * {@code https://generativelanguage.googleapis.com}; a leading {@code models/} in the model id is dropped) with
 * {@code x-goog-api-key}.
 *
 * <p>Request mapping from OpenAI's shape:
 * <ul>
 *   <li>Roles: {@code user} → {@code user}, {@code assistant} → {@code model}; {@code system}/{@code developer}
 *       messages are joined into {@code systemInstruction}. Consecutive same-role turns are merged.</li>
 *   <li>Assistant {@code tool_calls} → {@code functionCall} parts (arguments parsed to {@code args}); a tool call's
 *       {@code extra_content.google.thought_signature} (which this adapter puts on calls it returns, as Google's own
 *       OpenAI endpoint does) goes back as the part's {@code thoughtSignature}, which Gemini 3 requires.
 *       {@code role: tool} messages → {@code functionResponse} parts in a user turn, the function name taken from
 *       the matching earlier tool call (else the message's {@code name}); {@code response} is the tool's content
 *       when that is a JSON object, else {@code {"result": content}}.</li>
 *   <li>{@code image_url} parts: {@code data:} URLs → {@code inlineData}; other URLs → {@code fileData}.</li>
 *   <li>{@code generationConfig}: {@code max_tokens} → {@code maxOutputTokens}, {@code temperature},
 *       {@code top_p} → {@code topP}, {@code top_k} → {@code topK}, {@code stop} → {@code stopSequences},
 *       {@code seed}, {@code presence_penalty}/{@code frequency_penalty}, {@code n} → {@code candidateCount};
 *       {@code response_format} {@code json_object}/{@code json_schema} → {@code responseMimeType: application/json},
 *       with {@code responseSchema} from {@code json_schema.schema}.</li>
 *   <li>{@code tools} → {@code tools: [{functionDeclarations: [...]}]}; {@code tool_choice} → {@code toolConfig.
 *       functionCallingConfig.mode} {@code AUTO}/{@code ANY}/{@code NONE}, a named function → {@code ANY} with
 *       {@code allowedFunctionNames}.</li>
 *   <li>Schemas ({@code responseSchema}, function {@code parameters}) are cut down to the OpenAPI subset Gemini's
 *       {@code Schema} accepts: unknown keywords ({@code additionalProperties}, {@code $schema}, {@code strict},
 *       {@code $ref}/{@code $defs}, ...) are dropped, {@code type: [X, "null"]} becomes {@code type: X,
 *       nullable: true}, {@code const} becomes a one-value {@code enum}; an object schema with no properties is
 *       left out of a function declaration (Gemini rejects empty OBJECT schemas).</li>
 * </ul>
 *
 * <p>Response: text parts of {@code candidates[0]} are concatenated (thought parts left out); {@code functionCall}
 * parts become OpenAI {@code tool_calls} with ids {@code call_0}, {@code call_1}, ... (or Gemini's own id when it
 * gives one). {@code finishReason} STOP → {@code stop}, MAX_TOKENS → {@code length}, any function call →
 * {@code tool_calls}; SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY (and a
 * {@code promptFeedback.blockReason}) throw a {@code bad_request} "gemini blocked the answer: REASON" (the same
 * task would be blocked again); MALFORMED_FUNCTION_CALL and UNEXPECTED_TOOL_CALL are {@code server_error} (a
 * model slip a retry may not repeat). Usage from {@code usageMetadata}: input = promptTokenCount +
 * toolUsePromptTokenCount (tool-use prompt tokens are billed as input), cached = cachedContentTokenCount,
 * output = candidatesTokenCount + thoughtsTokenCount (thinking is billed as output).
 *
 * <p>Errors ({@code {"error": {"code", "status", "message", "details"}}}) are classified with {@link #RULES} on the
 * gRPC status, {@code ErrorInfo.reason} and two markers this adapter derives from {@code QuotaFailure}: a violated
 * quota whose id or metric is per day ({@value #PER_DAY}), or whose limit is zero ({@value #ZERO_QUOTA}, e.g. a
 * model with no free tier); both are {@code quota_exhausted}, the rest of 429 {@code RESOURCE_EXHAUSTED} is a rate
 * limit waiting {@code RetryInfo.retryDelay}. Gemini reports a bad key as 400 INVALID_ARGUMENT with reason
 * {@code API_KEY_INVALID}: that is {@code auth}. FAILED_PRECONDITION (billing not enabled, free tier not available
 * in the caller's region) is {@code quota_exhausted}: the key cannot be used, another key or provider may work.
 */
public class GeminiAdapter implements ProviderAdapter {

    public static final String API = "gemini";
    static final String DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com";
    static final String PER_DAY = "quota:per-day";
    static final String ZERO_QUOTA = "quota:zero";

    static final String CONTEXT_WORDING = "input token count|exceeds the maximum number of tokens"
            + "|context (window|length)|too many (input )?tokens|prompt is too long";

    /** gRPC status / reason / message → class, first match wins; the rest falls to {@link ErrorRule#byStatus}. */
    public static final List<ErrorRule> RULES = List.of(
            code("API_KEY_INVALID", AUTH),                                 // 400 INVALID_ARGUMENT for a bad key
            message("API key (not valid|expired)", AUTH, 400),
            code(PER_DAY, QUOTA_EXHAUSTED),                                // 429 per-day quota spent
            code(ZERO_QUOTA, QUOTA_EXHAUSTED),                             // 429 "limit: 0": no quota for this key
            code("RESOURCE_EXHAUSTED", RATE_LIMITED),                      // 429 per-minute limits
            code("FAILED_PRECONDITION", QUOTA_EXHAUSTED),                  // 400 billing / free tier unavailable
            codeAndMessage("INVALID_ARGUMENT", CONTEXT_WORDING, CONTEXT_WINDOW),
            code("INVALID_ARGUMENT", BAD_REQUEST),
            code("UNAUTHENTICATED", AUTH),                                 // 401
            code("PERMISSION_DENIED", AUTH),                               // 403
            code("NOT_FOUND", MODEL_NOT_FOUND),                            // 404
            code("DEADLINE_EXCEEDED", SERVER_ERROR),                       // 504
            code("UNAVAILABLE", SERVER_ERROR),                             // 503 "The model is overloaded"
            code("INTERNAL", SERVER_ERROR),                                // 500
            ErrorRule.status(408, TIMEOUT));

    static final Set<String> BLOCKED = Set.of("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
            "IMAGE_SAFETY", "LANGUAGE_NOT_SUPPORTED");
    static final Set<String> SLIPS = Set.of("MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL");

    private static final Set<String> SCHEMA_KEYS = Set.of("type", "format", "title", "description", "nullable",
            "enum", "maxItems", "minItems", "properties", "required", "minProperties", "maxProperties", "minLength",
            "maxLength", "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum");
    private static final Set<String> SCHEMA_FORMATS = Set.of("enum", "date-time", "int32", "int64", "float", "double");

    @Override
    public String api() {
        return API;
    }

    @Override
    public String endpoint(ProviderSpec provider, DeploymentSpec deployment) {
        String model = deployment.model().startsWith("models/") ? deployment.model().substring(7) : deployment.model();
        String base = AdapterSupport.baseUrl(provider, DEFAULT_BASE_URL);
        base = base.endsWith("/v1beta") ? base.substring(0, base.length() - 7) : base; // tolerate ".../v1beta"
        return base + "/v1beta/models/" + model + ":generateContent";
    }

    @Override
    public Map<String, String> requestHeaders(ProviderSpec provider, String apiKey) {
        return AdapterSupport.jsonHeaders(provider, "x-goog-api-key", apiKey);
    }

    @Override
    public byte[] requestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode params = request.params() == null ? Json.object() : request.params();
        ObjectNode body = Json.object();
        List<String> system = ChatMapping.systemTexts(request.messages());
        ArrayNode contents = Json.array();
        Map<String, String> callNames = new HashMap<>();
        for (JsonNode m : ChatMapping.conversation(request.messages())) {
            String role = Json.textOrNull(m, "role");
            ArrayNode parts;
            String turnRole;
            if ("assistant".equals(role)) {
                turnRole = "model";
                parts = contentParts(m.get("content"));
                JsonNode calls = m.get("tool_calls");
                if (calls != null && calls.isArray()) {
                    for (JsonNode call : calls) {
                        parts.add(functionCall(call, callNames));
                    }
                }
            } else if ("tool".equals(role)) {
                turnRole = "user";
                parts = Json.array();
                parts.add(functionResponse(m, callNames));
            } else {
                turnRole = "user";
                parts = contentParts(m.get("content"));
            }
            ChatMapping.appendTurn(contents, turnRole, "parts", parts);
        }
        if (!system.isEmpty()) {
            body.putObject("systemInstruction").putArray("parts").addObject().put("text", String.join("\n\n", system));
        }
        body.set("contents", contents);
        mapTools(params, body);
        ObjectNode config = generationConfig(params);
        if (!config.isEmpty()) {
            body.set("generationConfig", config);
        }
        return Json.bytes(body);
    }

    private static ArrayNode contentParts(JsonNode content) {
        ArrayNode parts = Json.array();
        if (content != null && content.isArray()) {
            for (JsonNode part : content) {
                if ("image_url".equals(Json.textOrNull(part, "type"))) {
                    String u = ChatMapping.imageUrl(part);
                    if (u != null) {
                        parts.add(image(u));
                    }
                } else {
                    addText(parts, part.isTextual() ? part.asText() : Json.textOrNull(part, "text"));
                }
            }
        } else {
            addText(parts, AdapterSupport.text(content));
        }
        return parts;
    }

    private static void addText(ArrayNode parts, String text) {
        if (text != null && !text.isEmpty()) {
            parts.addObject().put("text", text);
        }
    }

    private static ObjectNode image(String url) {
        ObjectNode part = Json.object();
        if (url.startsWith("data:") && url.contains(";base64,")) {
            ObjectNode inline = part.putObject("inlineData");
            inline.put("mimeType", url.substring(5, url.indexOf(';')));
            inline.put("data", url.substring(url.indexOf(";base64,") + 8));
        } else {
            String lower = url.toLowerCase(Locale.ROOT);
            String mime = lower.endsWith(".png") ? "image/png" : lower.endsWith(".webp") ? "image/webp"
                    : lower.endsWith(".gif") ? "image/gif" : "image/jpeg";
            part.putObject("fileData").put("mimeType", mime).put("fileUri", url);
        }
        return part;
    }

    private static ObjectNode functionCall(JsonNode call, Map<String, String> callNames) {
        JsonNode fn = call.path("function");
        String name = Json.textOrNull(fn, "name");
        String id = Json.textOrNull(call, "id");
        if (id != null && name != null) {
            callNames.put(id, name);
        }
        ObjectNode part = Json.object();
        ObjectNode fc = part.putObject("functionCall");
        fc.put("name", name);
        fc.set("args", ChatMapping.argumentsObject(fn.get("arguments")));
        String signature = Json.textOrNull(call.path("extra_content").path("google"), "thought_signature");
        if (signature != null) {
            part.put("thoughtSignature", signature);
        }
        return part;
    }

    private static ObjectNode functionResponse(JsonNode message, Map<String, String> callNames) {
        String id = Json.textOrNull(message, "tool_call_id");
        String name = id == null ? null : callNames.get(id);
        if (name == null) {
            name = Json.textOrNull(message, "name");
        }
        String text = AdapterSupport.text(message.get("content"));
        JsonNode parsed = AdapterSupport.parseOrNull(text.getBytes(StandardCharsets.UTF_8));
        ObjectNode response;
        if (parsed != null && parsed.isObject()) {
            response = (ObjectNode) parsed;
        } else {
            response = Json.object();
            response.put("result", text);
        }
        ObjectNode part = Json.object();
        ObjectNode fr = part.putObject("functionResponse");
        fr.put("name", name == null ? "unknown" : name);
        fr.set("response", response);
        return part;
    }

    private static ObjectNode generationConfig(ObjectNode params) {
        ObjectNode config = Json.object();
        ChatMapping.copyMaxTokens(params, config, "maxOutputTokens");
        ChatMapping.copyNumber(params, "temperature", config, "temperature");
        ChatMapping.copyNumber(params, "top_p", config, "topP");
        ChatMapping.copyNumber(params, "top_k", config, "topK");
        ChatMapping.copyNumber(params, "seed", config, "seed");
        ChatMapping.copyNumber(params, "presence_penalty", config, "presencePenalty");
        ChatMapping.copyNumber(params, "frequency_penalty", config, "frequencyPenalty");
        ChatMapping.copyNumber(params, "n", config, "candidateCount");
        ChatMapping.copyStopSequences(params, config);
        JsonNode format = params.get("response_format");
        String type = format == null ? null : Json.textOrNull(format, "type");
        if ("json_object".equals(type) || "json_schema".equals(type)) {
            config.put("responseMimeType", "application/json");
            JsonNode schema = format.path("json_schema").get("schema");
            if (schema != null && schema.isObject()) {
                config.set("responseSchema", schema(schema));
            }
        }
        return config;
    }

    /** A JSON Schema cut down to the subset Gemini's {@code Schema} accepts. */
    static ObjectNode schema(JsonNode in) {
        ObjectNode out = Json.object();
        if (in == null || !in.isObject()) {
            return out;
        }
        for (Map.Entry<String, JsonNode> f : in.properties()) {
            String key = f.getKey();
            JsonNode v = f.getValue();
            switch (key) {
                case "type" -> {
                    if (v.isArray()) {
                        String first = null;
                        for (JsonNode t : v) {
                            if ("null".equals(t.asText())) {
                                out.put("nullable", true);
                            } else if (first == null) {
                                first = t.asText();
                            }
                        }
                        if (first != null) {
                            out.put("type", first);
                        }
                    } else {
                        out.set("type", v.deepCopy());
                    }
                }
                case "properties" -> {
                    ObjectNode props = out.putObject("properties");
                    v.properties().forEach(p -> props.set(p.getKey(), schema(p.getValue())));
                }
                case "items" -> out.set("items", schema(v));
                case "anyOf" -> {
                    ArrayNode any = out.putArray("anyOf");
                    v.forEach(s -> any.add(schema(s)));
                }
                case "const" -> out.putArray("enum").add(v.deepCopy());
                case "format" -> {
                    if (SCHEMA_FORMATS.contains(v.asText())) {
                        out.set("format", v.deepCopy());
                    }
                }
                default -> {
                    if (SCHEMA_KEYS.contains(key)) {
                        out.set(key, v.deepCopy());
                    }
                }
            }
        }
        return out;
    }

    private static void mapTools(ObjectNode params, ObjectNode body) {
        ArrayNode declarations = AdapterSupport.toolDeclarations(params, (declaration, parameters) -> {
            if (parameters != null && parameters.isObject()) {
                ObjectNode schema = schema(parameters);
                boolean emptyObject = "object".equalsIgnoreCase(Json.textOrNull(schema, "type"))
                        && (!schema.has("properties") || schema.get("properties").isEmpty());
                if (!emptyObject) {
                    declaration.set("parameters", schema);
                }
            }
        });
        if (declarations == null) {
            return;
        }
        body.putArray("tools").addObject().set("functionDeclarations", declarations);

        JsonNode tc = params.get("tool_choice");
        ObjectNode fcc = null;
        if (tc != null && tc.isTextual()) {
            String mode = switch (tc.asText()) {
                case "required", "any" -> "ANY";
                case "none" -> "NONE";
                default -> "AUTO";
            };
            fcc = Json.object().put("mode", mode);
        } else if (tc != null && tc.isObject()) {
            String name = Json.textOrNull(tc.path("function"), "name");
            fcc = Json.object().put("mode", name == null ? "AUTO" : "ANY");
            if (name != null) {
                fcc.putArray("allowedFunctionNames").add(name);
            }
        }
        if (fcc != null) {
            body.putObject("toolConfig").set("functionCallingConfig", fcc);
        }
    }

    @Override
    public ProviderReply readResponse(int status, Map<String, Object> headers, byte[] body, DeploymentSpec deployment) {
        if (status < 200 || status >= 300) {
            throw error(status, headers, body);
        }
        JsonNode root = AdapterSupport.parseSuccess(status, body, API);
        if (root.has("error")) {
            throw error(status, headers, body);
        }
        JsonNode candidates = root.get("candidates");
        if (candidates == null || !candidates.isArray() || candidates.isEmpty()) {
            String block = Json.textOrNull(root.path("promptFeedback"), "blockReason");
            if (block != null) {
                throw new ProviderError(BAD_REQUEST, status, "gemini blocked the prompt: " + block);
            }
            throw AdapterSupport.malformed(status, API, "no candidates");
        }
        JsonNode candidate = candidates.get(0);
        String finish = Json.textOrNull(candidate, "finishReason");
        if (finish != null && BLOCKED.contains(finish)) {
            throw new ProviderError(BAD_REQUEST, status, "gemini blocked the answer: " + finish);
        }
        if (finish != null && SLIPS.contains(finish)) {
            throw new ProviderError(SERVER_ERROR, status, "gemini answer failed: " + finish);
        }
        StringBuilder text = new StringBuilder();
        ArrayNode calls = Json.array();
        JsonNode parts = candidate.path("content").path("parts");
        if (parts.isArray()) {
            for (JsonNode part : parts) {
                if (part.path("thought").asBoolean(false)) {
                    continue;
                }
                if (part.has("functionCall")) {
                    JsonNode fc = part.get("functionCall");
                    String id = Json.textOrNull(fc, "id");
                    ObjectNode call = ChatMapping.addToolCall(calls, id != null ? id : "call_" + calls.size(),
                            Json.textOrNull(fc, "name"), fc.get("args"));
                    String signature = Json.textOrNull(part, "thoughtSignature");
                    if (signature != null) {
                        call.putObject("extra_content").putObject("google").put("thought_signature", signature);
                    }
                } else if (part.has("text")) {
                    text.append(part.get("text").asText());
                }
            }
        }
        String finishReason = !calls.isEmpty() ? "tool_calls" : "MAX_TOKENS".equals(finish) ? "length" : "stop";
        return new ProviderReply(ChatMapping.assistantMessage(text, calls), finishReason, usage(root.get("usageMetadata")),
                Json.textOrNull(root, "responseId"), Json.textOrNull(root, "modelVersion"));
    }

    static TokenUsage usage(JsonNode meta) {
        if (meta == null || !meta.isObject()) {
            return TokenUsage.NONE;
        }
        long input = Json.longOr(meta, "promptTokenCount", 0) + Json.longOr(meta, "toolUsePromptTokenCount", 0);
        long cached = Math.min(Json.longOr(meta, "cachedContentTokenCount", 0), input);
        long output = Json.longOr(meta, "candidatesTokenCount", 0) + Json.longOr(meta, "thoughtsTokenCount", 0);
        return new TokenUsage(input, cached, output);
    }

    static ProviderError error(int status, Map<String, Object> headers, byte[] body) {
        JsonNode root = AdapterSupport.parseOrNull(body);
        if (root != null && root.isArray() && !root.isEmpty()) {
            root = root.get(0);
        }
        JsonNode err = root == null ? null : root.get("error");
        List<String> codes = new ArrayList<>();
        String text = null;
        Duration wait = null;
        if (err != null && err.isObject()) {
            text = Json.textOrNull(err, "message");
            String grpc = Json.textOrNull(err, "status");
            codes.add(grpc);
            JsonNode details = err.get("details");
            if (details != null && details.isArray()) {
                for (JsonNode d : details) {
                    String type = String.valueOf(Json.textOrNull(d, "@type"));
                    if (type.endsWith("google.rpc.RetryInfo")) {
                        wait = protoDuration(Json.textOrNull(d, "retryDelay"));
                    } else if (type.endsWith("google.rpc.ErrorInfo")) {
                        codes.add(Json.textOrNull(d, "reason"));
                    } else if (type.endsWith("google.rpc.QuotaFailure")) {
                        for (JsonNode v : d.path("violations")) {
                            String id = (Json.textOrNull(v, "quotaId") + " " + Json.textOrNull(v, "quotaMetric"))
                                    .toLowerCase(Locale.ROOT);
                            if (id.contains("perday") || id.contains("per_day") || id.contains("per-day")) {
                                codes.add(PER_DAY);
                            }
                            if ("0".equals(Json.textOrNull(v, "quotaValue"))) {
                                codes.add(ZERO_QUOTA);
                            }
                        }
                    }
                }
            }
        } else if (err != null && err.isTextual()) {
            text = err.asText();
        }
        String grpc = codes.isEmpty() ? null : codes.get(0);
        return AdapterSupport.classified(API, RULES, status, codes, grpc, text, body, wait, headers);
    }

    /** A protobuf JSON duration such as {@code "32s"} or {@code "1.5s"}, or null. */
    static Duration protoDuration(String value) {
        if (value == null || !value.trim().endsWith("s")) {
            return null;
        }
        try {
            BigDecimal seconds = new BigDecimal(value.trim().substring(0, value.trim().length() - 1));
            return seconds.signum() < 0 ? null : Duration.ofMillis(seconds.movePointRight(3).longValue());
        } catch (NumberFormatException | ArithmeticException e) {
            return null;
        }
    }

    @Override
    public boolean streams() {
        return true;
    }

    /** {@code :streamGenerateContent?alt=sse}: the same request, answered as Server-Sent Events. */
    @Override
    public String streamEndpoint(ProviderSpec provider, DeploymentSpec deployment) {
        String plain = endpoint(provider, deployment);
        return plain.substring(0, plain.length() - ":generateContent".length()) + ":streamGenerateContent?alt=sse";
    }

    @Override
    public io.caravan.provider.ProviderStream openStream(java.io.InputStream body, Map<String, Object> headers,
            DeploymentSpec deployment, Runnable abort) {
        return io.caravan.provider.FramedStream.sse(API, body, new GeminiStreamTranslator(headers), abort);
    }
}
