package io.caravan.provider.openai;

import static io.caravan.provider.ErrorRule.code;
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
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.AdapterSupport;
import io.caravan.provider.ChatRequest;
import io.caravan.provider.ErrorRule;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.TokenUsage;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Json;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code api: openai}: the OpenAI Chat Completions API and the many services that copy it.
 * {@code POST {base_url}/chat/completions} ({@code base_url} ends in {@code /v1} or the service's equivalent) with
 * {@code Authorization: Bearer KEY}. The body is {@code model} (the deployment's model id) and the task's
 * {@code messages}, with every param passed through unchanged, except {@code stream}/{@code stream_options}
 * (Caravan reads whole answers) and {@code model}/{@code messages} (never overridden by params).
 *
 * <p>Quirks of the services users point it at:
 * <ul>
 *   <li><b>OpenAI</b> ({@code https://api.openai.com/v1}): cached prompt tokens in
 *       {@code usage.prompt_tokens_details.cached_tokens}; a 429 whose {@code error.code} is
 *       {@code insufficient_quota} means the account has no credit ({@code quota_exhausted}), any other 429 is a
 *       rate limit, with {@code retry-after-ms}/{@code Retry-After}. Reasoning models (o-series, gpt-5) refuse
 *       {@code max_tokens}: set provider setting {@code max_tokens_param: max_completion_tokens} and the adapter
 *       renames it.</li>
 *   <li><b>Moonshot / Kimi</b> ({@code https://api.moonshot.ai/v1}, China: {@code https://api.moonshot.cn/v1}):
 *       errors carry their kind in {@code error.type}: {@code exceeded_current_quota_error} (429, account out of
 *       balance or suspended) is {@code quota_exhausted}; {@code rate_limit_reached_error} and
 *       {@code engine_overloaded_error} (429) are rate limits; an over-long prompt is a 400
 *       {@code invalid_request_error} saying "exceeded model token limit". Cached tokens come either in
 *       {@code usage.cached_tokens} (context caching) or in {@code prompt_tokens_details.cached_tokens}.
 *       Moonshot's default {@code max_tokens} is small; set it in params or the task when answers are long.</li>
 *   <li><b>Qwen on Alibaba DashScope compatible mode</b> ({@code https://dashscope-intl.aliyuncs.com/compatible-mode/v1},
 *       China {@code https://dashscope.aliyuncs.com/compatible-mode/v1}): OpenAI shapes, with DashScope error codes:
 *       {@code Arrearage} (account overdue) is {@code quota_exhausted}, {@code Throttling.RateQuota} /
 *       {@code Throttling.AllocationQuota} are per-minute rate limits even though their text says "quota";
 *       an over-long prompt is a 400 "Range of input length should be [1, N]". Cached tokens in
 *       {@code prompt_tokens_details.cached_tokens}.</li>
 *   <li><b>DeepSeek</b> ({@code https://api.deepseek.com/v1}): cache hits in {@code usage.prompt_cache_hit_tokens}
 *       ({@code prompt_tokens} = hit + miss); 402 "Insufficient Balance" is {@code quota_exhausted}; 422 is an
 *       invalid parameter ({@code bad_request}); 503 "Server overloaded" a server error.</li>
 * </ul>
 *
 * <p>Errors are classified with {@link #RULES} (first match wins), then by status alone
 * ({@link ErrorRule#byStatus(int)}): 401/403 auth, 402 quota, 404 model not found, 408 timeout, 429 rate limited,
 * other 4xx bad request, 5xx (529 included) server error. Error bodies are {@code {"error": {"message", "type",
 * "code"}}}; some gateways send {@code {"message", "code"}} or a bare string, which are read too.
 */
public class OpenAiAdapter implements ProviderAdapter {

    public static final String API = "openai";

    /** Phrases services use when the prompt does not fit the model's context window. */
    static final String CONTEXT_WORDING = "context_length_exceeded|maximum context length|context window|context length"
            + "|exceeded model token limit|range of input length|input length should be|input tokens exceed"
            + "|too many (input )?tokens|prompt is too long|reduce the length of the messages";

    /**
     * Phrases of a spent account. Deliberately narrower than "billing": OpenAI's ordinary rate-limit text links to
     * its billing page.
     */
    static final String QUOTA_WORDING = "current quota|insufficient[_ ]?(quota|credits?|balance|funds)|credit balance"
            + "|out of credits?|no credits? (left|remaining)|balance (is )?(too low|insufficient|not enough)"
            + "|account balance|arrear|billing details|quota (exceeded|exhausted|has been (used|exhausted))"
            + "|spend(ing)? limit";

    /** Status/code/message → class, first match wins; unmatched answers fall to {@link ErrorRule#byStatus}. */
    public static final List<ErrorRule> RULES = List.of(
            // Per-minute limits whose wording mentions "quota" (DashScope): rate limits, not a spent account.
            code("Throttling.RateQuota", RATE_LIMITED),
            code("Throttling.AllocationQuota", RATE_LIMITED),
            code("Throttling", RATE_LIMITED),
            code("rate_limit_reached_error", RATE_LIMITED),               // Moonshot
            code("engine_overloaded_error", RATE_LIMITED),                // Moonshot 429 overload
            // A spent account or key: no retry, next key.
            code("insufficient_quota", QUOTA_EXHAUSTED),                  // OpenAI 429
            code("billing_not_active", QUOTA_EXHAUSTED),                  // OpenAI 429
            code("exceeded_current_quota_error", QUOTA_EXHAUSTED),        // Moonshot 429
            code("Arrearage", QUOTA_EXHAUSTED),                           // DashScope 400: account overdue
            code("Throttling.FreeTierOnly", QUOTA_EXHAUSTED),             // DashScope: free quota used up
            message(QUOTA_WORDING, QUOTA_EXHAUSTED, 429),
            message("insufficient balance", QUOTA_EXHAUSTED, 400, 403),    // DeepSeek sometimes answers 400/403 too
            // The prompt does not fit: only the context-window fallbacks can help.
            code("context_length_exceeded", CONTEXT_WINDOW),
            code("string_above_max_length", CONTEXT_WINDOW, 400),
            message(CONTEXT_WORDING, CONTEXT_WINDOW, 400, 413, 422),
            // Key problems some services report as 400 or 404.
            code("invalid_api_key", AUTH),
            code("invalid_authentication_error", AUTH),                   // Moonshot 401
            code("InvalidApiKey", AUTH),                                  // DashScope 401
            code("model_not_found", MODEL_NOT_FOUND, 400, 404),
            // Plain statuses, spelled out for the reader (the same as ErrorRule.byStatus).
            ErrorRule.status(401, AUTH),
            ErrorRule.status(402, QUOTA_EXHAUSTED),                       // DeepSeek "Insufficient Balance"
            ErrorRule.status(403, AUTH),
            ErrorRule.status(404, MODEL_NOT_FOUND),
            ErrorRule.status(408, TIMEOUT),
            ErrorRule.status(429, RATE_LIMITED),
            ErrorRule.status(400, BAD_REQUEST),
            ErrorRule.status(413, BAD_REQUEST),
            ErrorRule.status(422, BAD_REQUEST),
            ErrorRule.status(529, SERVER_ERROR));

    private static final Set<String> NOT_PASSED = Set.of("model", "messages", "stream", "stream_options");

    @Override
    public String api() {
        return API;
    }

    @Override
    public String endpoint(ProviderSpec provider, DeploymentSpec deployment) {
        String base = AdapterSupport.baseUrl(provider, null);
        return base.endsWith("/chat/completions") ? base : base + "/chat/completions"; // tolerate a full URL
    }

    @Override
    public Map<String, String> requestHeaders(ProviderSpec provider, String apiKey) {
        Map<String, String> own = new LinkedHashMap<>();
        own.put("Content-Type", "application/json");
        own.put("Accept", "application/json");
        own.put("Authorization", "Bearer " + apiKey);
        return AdapterSupport.headers(provider, own);
    }

    @Override
    public byte[] requestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode body = Json.object();
        body.put("model", deployment.model());
        body.set("messages", request.messages() == null ? Json.array() : request.messages().deepCopy());
        String maxTokensParam = provider.setting("max_tokens_param", "max_tokens");
        if (request.params() != null) {
            Iterator<Map.Entry<String, JsonNode>> fields = request.params().fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> f = fields.next();
                if (NOT_PASSED.contains(f.getKey()) || f.getValue() == null || f.getValue().isNull()) {
                    continue;
                }
                String name = f.getKey().equals("max_tokens") ? maxTokensParam : f.getKey();
                if (!body.has(name)) {
                    body.set(name, f.getValue().deepCopy());
                }
            }
        }
        return Json.bytes(body);
    }

    @Override
    public ProviderReply readResponse(int status, Map<String, Object> headers, byte[] body, DeploymentSpec deployment) {
        if (status < 200 || status >= 300) {
            throw error(status, headers, body);
        }
        JsonNode root = AdapterSupport.parseSuccess(status, body, API);
        JsonNode choices = root.get("choices");
        if (choices == null || !choices.isArray() || choices.isEmpty()) {
            if (root.has("error")) { // some gateways answer errors with 200
                throw error(status, headers, body);
            }
            throw AdapterSupport.malformed(status, API, "no choices");
        }
        JsonNode choice = choices.get(0);
        JsonNode msg = choice.get("message");
        if (msg == null || !msg.isObject()) {
            throw AdapterSupport.malformed(status, API, "choice without message");
        }
        ObjectNode message = Json.object();
        message.put("role", "assistant");
        JsonNode content = msg.get("content");
        if (content == null || content.isNull()) {
            message.putNull("content");
        } else {
            message.put("content", AdapterSupport.text(content));
        }
        for (String extra : new String[] {"tool_calls", "refusal", "reasoning_content"}) {
            JsonNode v = msg.get(extra);
            if (v != null && !v.isNull() && !(v.isArray() && v.isEmpty())) {
                message.set(extra, v.deepCopy());
            }
        }
        String finish = Json.textOrNull(choice, "finish_reason");
        if (finish == null) {
            finish = message.has("tool_calls") ? "tool_calls" : "stop";
        }
        return new ProviderReply(message, finish, usage(root.get("usage")), Json.textOrNull(root, "id"),
                Json.textOrNull(root, "model"));
    }

    /** OpenAI usage with the cached-token fields of OpenAI, Moonshot and DeepSeek. */
    static TokenUsage usage(JsonNode usage) {
        if (usage == null || !usage.isObject()) {
            return TokenUsage.NONE;
        }
        long input = Json.longOr(usage, "prompt_tokens", 0);
        long output = Json.longOr(usage, "completion_tokens", 0);
        long cached = Json.longOr(usage.get("prompt_tokens_details"), "cached_tokens", -1);
        if (cached < 0) {
            cached = Json.longOr(usage, "cached_tokens", -1);               // Moonshot
        }
        if (cached < 0) {
            cached = Json.longOr(usage, "prompt_cache_hit_tokens", 0);      // DeepSeek
        }
        return new TokenUsage(input, Math.min(Math.max(cached, 0), input), output);
    }

    /** Classifies a non-success answer. */
    static ProviderError error(int status, Map<String, Object> headers, byte[] body) {
        JsonNode root = AdapterSupport.parseOrNull(body);
        List<String> codes = new ArrayList<>();
        String text = null;
        if (root != null) {
            JsonNode err = root.has("error") ? root.get("error") : root;
            if (err.isTextual()) {
                text = err.asText();
            } else {
                text = Json.textOrNull(err, "message");
                codes.add(Json.textOrNull(err, "code"));
                codes.add(Json.textOrNull(err, "type"));
                if (text == null) {
                    text = Json.textOrNull(root, "message");
                }
            }
        }
        String code = codes.stream().filter(c -> c != null && !c.isBlank()).findFirst().orElse(null);
        return AdapterSupport.classified(API, RULES, status, codes, code, text, body, null, headers);
    }

    @Override
    public boolean streams() {
        return true;
    }

    /** The ordinary body with {@code stream: true} and {@code stream_options.include_usage}, so streams are billed. */
    @Override
    public byte[] streamRequestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode body = (ObjectNode) AdapterSupport.parseOrNull(requestBody(request, provider, deployment));
        body.put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        return Json.bytes(body);
    }

    @Override
    public io.caravan.provider.ProviderStream openStream(java.io.InputStream body, Map<String, Object> headers,
            DeploymentSpec deployment, Runnable abort) {
        return new io.caravan.provider.SseStream(API, body, new OpenAiStreamTranslator(headers), abort);
    }
}
