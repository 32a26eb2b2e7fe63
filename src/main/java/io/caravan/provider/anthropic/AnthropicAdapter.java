package io.caravan.provider.anthropic;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code api: anthropic}: the Anthropic Messages API. {@code POST {base_url}/v1/messages} ({@code base_url} is the
 * host root, default {@code https://api.anthropic.com}) with {@code x-api-key} and
 * {@code anthropic-version: 2023-06-01}.
 *
 * <p>Request mapping from OpenAI's shape:
 * <ul>
 *   <li>{@code system} (and {@code developer}) messages, wherever they stand, are joined into the top-level
 *       {@code system} string.</li>
 *   <li>Every message becomes content blocks; consecutive messages of the same role are merged into one turn
 *       (Anthropic wants user and assistant to alternate). Empty text blocks are dropped (Anthropic rejects them);
 *       a message left with no block is dropped too.</li>
 *   <li>Assistant {@code tool_calls} become {@code tool_use} blocks (arguments parsed to {@code input}; arguments
 *       that are not a JSON object are wrapped as {@code {"arguments": "..."}}); {@code role: tool} messages become
 *       {@code tool_result} blocks in a user turn, so parallel results share one turn.</li>
 *   <li>OpenAI {@code image_url} parts become {@code image} blocks (base64 for {@code data:} URLs, else url).</li>
 *   <li>{@code max_tokens} is always sent: the param ({@code max_tokens} or {@code max_completion_tokens}), else the
 *       deployment's {@code max_output_tokens}, else 4096.</li>
 *   <li>{@code temperature} is clamped to Anthropic's 0..1 (OpenAI allows up to 2; an out-of-range value would fail
 *       the whole task as a bad request). When both {@code temperature} and {@code top_p} are given only
 *       {@code temperature} is sent: recent Claude models refuse the pair.</li>
 *   <li>{@code stop} (string or list) becomes {@code stop_sequences}, whitespace-only entries dropped.</li>
 *   <li>{@code tools} become {@code {name, description, input_schema}}; {@code tool_choice} {@code auto} →
 *       {@code {type: auto}}, {@code required} → {@code {type: any}}, a named function → {@code {type: tool, name}},
 *       {@code none} → {@code {type: none}} (tools stay declared so earlier {@code tool_use} blocks remain valid);
 *       {@code parallel_tool_calls: false} → {@code disable_parallel_tool_use}.</li>
 *   <li>{@code response_format}: Anthropic has no native JSON mode in the 2023-06-01 API without a beta header, so
 *       {@code json_object} and {@code json_schema} add an instruction to the system prompt (with the schema for
 *       {@code json_schema}). The answer is not validated.</li>
 *   <li>{@code top_k} and {@code thinking} (Anthropic's own names) pass through; other OpenAI params
 *       ({@code seed}, {@code n}, penalties, ...) are dropped because Anthropic rejects unknown fields.</li>
 * </ul>
 *
 * <p>Response: text blocks are concatenated into {@code content}; {@code tool_use} blocks become OpenAI
 * {@code tool_calls}; {@code thinking} blocks are left out. {@code stop_reason} {@code end_turn},
 * {@code stop_sequence}, {@code pause_turn} → {@code stop}; {@code max_tokens} and
 * {@code model_context_window_exceeded} → {@code length}; {@code tool_use} → {@code tool_calls};
 * {@code refusal} → {@code content_filter}. Usage: Anthropic's {@code input_tokens} excludes cache reads and
 * writes, so input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens; cached input = cache
 * reads; cache writes are reported in {@link TokenUsage#cacheWrite()} (priced at the input price).
 *
 * <p>Errors ({@code {"type":"error","error":{"type","message"}}}) are classified with {@link #RULES}. Decisions:
 * a 413 {@code request_too_large} is {@code context_window} (the request is too big for this deployment; a
 * larger-context fallback, perhaps another provider, may take it, whereas {@code bad_request} would end the task);
 * Anthropic's "credit balance is too low" and "reached your specified API usage limits" arrive as 400
 * {@code invalid_request_error} and are {@code quota_exhausted}; 504 {@code timeout_error} is a server error like
 * every other 5xx.
 */
public class AnthropicAdapter implements ProviderAdapter {

    public static final String API = "anthropic";
    public static final String VERSION = "2023-06-01";
    public static final int DEFAULT_MAX_TOKENS = 4096;
    static final String DEFAULT_BASE_URL = "https://api.anthropic.com";

    static final String QUOTA_WORDING = "credit balance|spend(ing)? limit|usage limits?|billing|purchase credits"
            + "|out of credits";
    static final String CONTEXT_WORDING = "prompt is too long|context (window|length|limit)|maximum context"
            + "|too many (input )?tokens|exceed(s|ed)? .*context";

    /** Status/type/message → class, first match wins; unmatched answers fall to {@link ErrorRule#byStatus}. */
    public static final List<ErrorRule> RULES = List.of(
            code("overloaded_error", SERVER_ERROR),                        // 529
            codeAndMessage("rate_limit_error", QUOTA_WORDING, QUOTA_EXHAUSTED), // 429 spend limit reached
            code("rate_limit_error", RATE_LIMITED),                         // 429
            code("billing_error", QUOTA_EXHAUSTED),                         // 402
            message(QUOTA_WORDING, QUOTA_EXHAUSTED, 400, 403, 429),         // "Your credit balance is too low ..."
            code("authentication_error", AUTH),                             // 401
            code("permission_error", AUTH),                                 // 403
            code("not_found_error", MODEL_NOT_FOUND),                       // 404
            code("request_too_large", CONTEXT_WINDOW),                      // 413: see class javadoc
            message(CONTEXT_WORDING, CONTEXT_WINDOW, 400, 413),             // "prompt is too long: 210000 tokens > 200000"
            code("invalid_request_error", BAD_REQUEST),                     // 400
            code("api_error", SERVER_ERROR),                                // 500
            code("timeout_error", SERVER_ERROR),                            // 504
            ErrorRule.status(408, TIMEOUT),
            ErrorRule.status(529, SERVER_ERROR));

    @Override
    public String api() {
        return API;
    }

    @Override
    public String endpoint(ProviderSpec provider, DeploymentSpec deployment) {
        String base = AdapterSupport.baseUrl(provider, DEFAULT_BASE_URL);
        if (base.endsWith("/v1/messages")) {
            return base;
        }
        return base.endsWith("/v1") ? base + "/messages" : base + "/v1/messages"; // tolerate ".../v1" as base_url
    }

    @Override
    public Map<String, String> requestHeaders(ProviderSpec provider, String apiKey) {
        return AdapterSupport.jsonHeaders(provider, "anthropic-version", VERSION, "x-api-key", apiKey);
    }

    @Override
    public byte[] requestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode params = request.params() == null ? Json.object() : request.params();
        ObjectNode body = Json.object();
        body.put("model", deployment.model());

        Integer maxTokens = AdapterSupport.maxTokens(params);
        if (maxTokens == null) {
            maxTokens = deployment.maxOutputTokens() != null ? deployment.maxOutputTokens() : DEFAULT_MAX_TOKENS;
        }
        body.put("max_tokens", maxTokens);

        List<String> system = ChatMapping.systemTexts(request.messages());
        ArrayNode messages = Json.array();
        for (JsonNode m : ChatMapping.conversation(request.messages())) {
            String role = Json.textOrNull(m, "role");
            ArrayNode blocks = "tool".equals(role) ? toolResult(m) : blocks(m, "assistant".equals(role));
            ChatMapping.appendTurn(messages, "assistant".equals(role) ? "assistant" : "user", "content", blocks);
        }
        String format = formatInstruction(params.get("response_format"));
        if (format != null) {
            system.add(format);
        }
        if (!system.isEmpty()) {
            body.put("system", String.join("\n\n", system));
        }
        body.set("messages", messages);

        JsonNode temperature = params.get("temperature");
        JsonNode topP = params.get("top_p");
        if (temperature != null && temperature.isNumber()) {
            body.put("temperature", Math.max(0.0, Math.min(1.0, temperature.asDouble())));
        } else if (topP != null && topP.isNumber()) {
            body.set("top_p", topP.deepCopy());
        }
        ArrayNode stops = stopSequences(params.get("stop"));
        if (!stops.isEmpty()) {
            body.set("stop_sequences", stops);
        }
        for (String native_ : new String[] {"top_k", "thinking"}) {
            JsonNode v = params.get(native_);
            if (v != null && !v.isNull()) {
                body.set(native_, v.deepCopy());
            }
        }
        mapTools(params, body);
        return Json.bytes(body);
    }

    private static ArrayNode blocks(JsonNode message, boolean assistant) {
        ArrayNode blocks = Json.array();
        JsonNode content = message.get("content");
        if (content != null && content.isArray()) {
            for (JsonNode part : content) {
                String type = Json.textOrNull(part, "type");
                if ("image_url".equals(type)) {
                    String u = ChatMapping.imageUrl(part);
                    if (u != null) {
                        blocks.add(image(u));
                    }
                } else {
                    addText(blocks, part.isTextual() ? part.asText() : Json.textOrNull(part, "text"));
                }
            }
        } else {
            addText(blocks, AdapterSupport.text(content));
        }
        if (assistant) {
            JsonNode calls = message.get("tool_calls");
            if (calls != null && calls.isArray()) {
                for (JsonNode call : calls) {
                    JsonNode fn = call.path("function");
                    ObjectNode use = blocks.addObject();
                    use.put("type", "tool_use");
                    use.put("id", Json.textOrNull(call, "id"));
                    use.put("name", Json.textOrNull(fn, "name"));
                    use.set("input", ChatMapping.argumentsObject(fn.get("arguments")));
                }
            }
        }
        return blocks;
    }

    private static void addText(ArrayNode blocks, String text) {
        if (text != null && !text.isBlank()) {
            blocks.addObject().put("type", "text").put("text", text);
        }
    }

    private static ObjectNode image(String url) {
        ObjectNode block = Json.object();
        block.put("type", "image");
        ObjectNode source = block.putObject("source");
        if (url.startsWith("data:") && url.contains(";base64,")) {
            int semi = url.indexOf(';');
            source.put("type", "base64");
            source.put("media_type", url.substring(5, semi));
            source.put("data", url.substring(url.indexOf(";base64,") + 8));
        } else {
            source.put("type", "url");
            source.put("url", url);
        }
        return block;
    }

    private static ArrayNode toolResult(JsonNode message) {
        ArrayNode blocks = Json.array();
        ObjectNode result = blocks.addObject();
        result.put("type", "tool_result");
        result.put("tool_use_id", Json.textOrNull(message, "tool_call_id"));
        result.put("content", AdapterSupport.text(message.get("content")));
        return blocks;
    }

    private static ArrayNode stopSequences(JsonNode stop) {
        ArrayNode out = Json.array();
        if (stop == null || stop.isNull()) {
            return out;
        }
        if (stop.isTextual()) {
            if (!stop.asText().isBlank()) {
                out.add(stop.asText());
            }
        } else if (stop.isArray()) {
            for (JsonNode s : stop) {
                if (s.isTextual() && !s.asText().isBlank()) {
                    out.add(s.asText());
                }
            }
        }
        return out;
    }

    /** The system-prompt instruction standing in for {@code response_format}, or null. */
    static String formatInstruction(JsonNode format) {
        String type = format == null ? null : format.isTextual() ? format.asText() : Json.textOrNull(format, "type");
        if ("json_object".equals(type)) {
            return "Respond with a single valid JSON object and nothing else: no prose, no code fences.";
        }
        if ("json_schema".equals(type)) {
            JsonNode schema = format.path("json_schema").get("schema");
            return "Respond with a single valid JSON value and nothing else: no prose, no code fences."
                    + (schema == null ? "" : " It must conform to this JSON Schema: " + Json.text(schema));
        }
        return null;
    }

    private static void mapTools(ObjectNode params, ObjectNode body) {
        ArrayNode tools = AdapterSupport.toolDeclarations(params, (tool, schema) -> tool.set("input_schema",
                schema != null && schema.isObject() ? schema.deepCopy() : Json.object().put("type", "object")));
        if (tools == null) {
            return;
        }
        body.set("tools", tools);

        ObjectNode choice = null;
        JsonNode tc = params.get("tool_choice");
        if (tc != null && tc.isTextual()) {
            switch (tc.asText()) {
                case "required", "any" -> choice = Json.object().put("type", "any");
                case "none" -> choice = Json.object().put("type", "none");
                default -> choice = Json.object().put("type", "auto");
            }
        } else if (tc != null && tc.isObject()) {
            String name = Json.textOrNull(tc.path("function"), "name");
            if (name == null) {
                name = Json.textOrNull(tc, "name");
            }
            choice = name == null ? Json.object().put("type", "auto") : Json.object().put("type", "tool").put("name", name);
        }
        JsonNode parallel = params.get("parallel_tool_calls");
        if (parallel != null && parallel.isBoolean() && !parallel.asBoolean()) {
            if (choice == null) {
                choice = Json.object().put("type", "auto");
            }
            if (!"none".equals(choice.get("type").asText())) {
                choice.put("disable_parallel_tool_use", true);
            }
        }
        if (choice != null) {
            body.set("tool_choice", choice);
        }
    }

    @Override
    public ProviderReply readResponse(int status, Map<String, Object> headers, byte[] body, DeploymentSpec deployment) {
        if (status < 200 || status >= 300) {
            throw error(status, headers, body);
        }
        JsonNode root = AdapterSupport.parseSuccess(status, body, API);
        if ("error".equals(Json.textOrNull(root, "type"))) {
            throw error(status, headers, body);
        }
        JsonNode content = root.get("content");
        if (content == null || !content.isArray()) {
            throw AdapterSupport.malformed(status, API, "no content array");
        }
        StringBuilder text = new StringBuilder();
        ArrayNode calls = Json.array();
        for (JsonNode block : content) {
            String type = Json.textOrNull(block, "type");
            if ("text".equals(type)) {
                text.append(Json.textOrNull(block, "text") == null ? "" : block.get("text").asText());
            } else if ("tool_use".equals(type)) {
                ChatMapping.addToolCall(calls, Json.textOrNull(block, "id"), Json.textOrNull(block, "name"),
                        block.get("input"));
            }
        }
        return new ProviderReply(ChatMapping.assistantMessage(text, calls), finishReason(Json.textOrNull(root, "stop_reason"), !calls.isEmpty()),
                usage(root.get("usage")), Json.textOrNull(root, "id"), Json.textOrNull(root, "model"));
    }

    static String finishReason(String stopReason, boolean toolCalls) {
        if (stopReason == null) {
            return toolCalls ? "tool_calls" : "stop";
        }
        return switch (stopReason) {
            case "max_tokens", "model_context_window_exceeded" -> "length";
            case "tool_use" -> "tool_calls";
            case "refusal" -> "content_filter";
            default -> toolCalls ? "tool_calls" : "stop";
        };
    }

    static TokenUsage usage(JsonNode usage) {
        if (usage == null || !usage.isObject()) {
            return TokenUsage.NONE;
        }
        return TokenUsage.cacheApart(Json.longOr(usage, "input_tokens", 0),
                Json.longOr(usage, "cache_read_input_tokens", 0), Json.longOr(usage, "cache_creation_input_tokens", 0),
                Json.longOr(usage, "output_tokens", 0));
    }

    static ProviderError error(int status, Map<String, Object> headers, byte[] body) {
        JsonNode root = AdapterSupport.parseOrNull(body);
        JsonNode err = root == null ? null : root.get("error");
        String type = err == null ? null : Json.textOrNull(err, "type");
        String text = err == null ? null : Json.textOrNull(err, "message");
        List<String> codes = new ArrayList<>();
        codes.add(type);
        return AdapterSupport.classified(API, RULES, status, codes, type, text, body, null, headers);
    }

    @Override
    public boolean streams() {
        return true;
    }

    /** The ordinary body with {@code stream: true}; Anthropic reports usage in message_start/message_delta. */
    @Override
    public byte[] streamRequestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        return Json.bytes(AdapterSupport.streaming(requestBody(request, provider, deployment)));
    }

    @Override
    public io.caravan.provider.ProviderStream openStream(java.io.InputStream body, Map<String, Object> headers,
            DeploymentSpec deployment, Runnable abort) {
        return io.caravan.provider.FramedStream.sse(API, body, new AnthropicStreamTranslator(headers), abort);
    }
}
