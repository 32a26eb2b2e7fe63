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
import io.caravan.provider.ProviderAdapters;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.TokenUsage;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Json;
import java.util.ArrayList;
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
 * <p><b>Dialects.</b> A vendor that copies the API with its own quirks (error codes, usage fields, parameter
 * names) is a subclass in its own folder ({@code provider/openai/dialect/<vendor>/}) that passes its declared
 * {@link Dialect} (api, default base URL, hosts, error rules, cached-token field) and overrides
 * {@link #adaptBody(ObjectNode, boolean)} where it renames parameters, registered by one line in
 * {@code META-INF/services/io.caravan.provider.ProviderAdapter}.
 * A catalog names it by its own api ({@code api: moonshot}) or keeps {@code api: openai}: {@link #dialect} then
 * picks the dialect whose {@link #hosts()} include the {@code base_url}'s host, or the one the {@code dialect}
 * setting names. See {@code docs/adding-a-provider.md}.
 *
 * <p>OpenAI itself ({@code https://api.openai.com/v1}): cached prompt tokens in
 * {@code usage.prompt_tokens_details.cached_tokens}; a 429 whose {@code error.code} is {@code insufficient_quota}
 * means the account has no credit ({@code quota_exhausted}), any other 429 is a rate limit, with
 * {@code retry-after-ms}/{@code Retry-After}. Reasoning models (o-series, gpt-5) refuse {@code max_tokens}: set
 * provider setting {@code max_tokens_param: max_completion_tokens} and the adapter renames it.
 *
 * <p>Errors are classified with the dialect's rules, then {@link #RULES} (first match wins), then by status alone
 * ({@link ErrorRule#byStatus(int)}): 401/403 auth, 402 quota, 404 model not found, 408 timeout, 429 rate limited,
 * other 4xx bad request, 5xx (529 included) server error. Error bodies are {@code {"error": {"message", "type",
 * "code"}}}; some gateways send {@code {"message", "code"}} or a bare string, which are read too.
 */
public class OpenAiAdapter implements ProviderAdapter {

    public static final String API = "openai";

    /** Phrases services use when the prompt does not fit the model's context window. */
    static final String CONTEXT_WORDING = "context_length_exceeded|maximum context length|context window|context length"
            + "|input tokens exceed|too many (input )?tokens|prompt is too long|reduce the length of the messages";

    /**
     * Phrases of a spent account. Deliberately narrower than "billing": OpenAI's ordinary rate-limit text links to
     * its billing page.
     */
    static final String QUOTA_WORDING = "current quota|insufficient[_ ]?(quota|credits?|balance|funds)|credit balance"
            + "|out of credits?|no credits? (left|remaining)|balance (is )?(too low|insufficient|not enough)"
            + "|account balance|billing details|quota (exceeded|exhausted|has been (used|exhausted))"
            + "|spend(ing)? limit";

    /**
     * OpenAI's own status/code/message → class, first match wins, after the dialect's {@link #dialectRules()};
     * unmatched answers fall to {@link ErrorRule#byStatus}.
     */
    public static final List<ErrorRule> RULES = List.of(
            // A spent account or key: no retry, next key.
            code("insufficient_quota", QUOTA_EXHAUSTED),                  // OpenAI 429
            code("billing_not_active", QUOTA_EXHAUSTED),                  // OpenAI 429
            message(QUOTA_WORDING, QUOTA_EXHAUSTED, 429),
            // The prompt does not fit: only the context-window fallbacks can help.
            code("context_length_exceeded", CONTEXT_WINDOW),
            code("string_above_max_length", CONTEXT_WINDOW, 400),
            message(CONTEXT_WORDING, CONTEXT_WINDOW, 400, 413, 422),
            // Key problems some services report as 400 or 404.
            code("invalid_api_key", AUTH),
            code("model_not_found", MODEL_NOT_FOUND, 400, 404),
            // Plain statuses, spelled out for the reader (the same as ErrorRule.byStatus).
            ErrorRule.status(401, AUTH),
            ErrorRule.status(402, QUOTA_EXHAUSTED),
            ErrorRule.status(403, AUTH),
            ErrorRule.status(404, MODEL_NOT_FOUND),
            ErrorRule.status(408, TIMEOUT),
            ErrorRule.status(429, RATE_LIMITED),
            ErrorRule.status(400, BAD_REQUEST),
            ErrorRule.status(413, BAD_REQUEST),
            ErrorRule.status(422, BAD_REQUEST),
            ErrorRule.status(529, SERVER_ERROR));

    /** OpenAI itself: no host of its own to recognise, no rules or usage fields beyond OpenAI's. */
    static final Dialect OPENAI = new Dialect(API, null, Set.of(), List.of(), null);

    private final Dialect own;
    private volatile List<ErrorRule> rules;

    private static final Set<String> NOT_PASSED = Set.of("model", "messages", "stream", "stream_options");

    public OpenAiAdapter() {
        this(OPENAI);
    }

    /** A dialect: a vendor's subclass passes its declaration. */
    protected OpenAiAdapter(Dialect own) {
        this.own = own;
    }

    @Override
    public String api() {
        return own.api();
    }

    @Override
    public String defaultBaseUrl(ProviderSpec provider) {
        return own.defaultBaseUrl();
    }

    // ---- the dialect hooks -------------------------------------------------------------------------------------

    /** The vendor's own error rules, tried before OpenAI's {@link #RULES}. */
    protected List<ErrorRule> dialectRules() {
        return own.rules();
    }

    /** Hosts whose {@code api: openai} providers speak this dialect (e.g. {@code api.moonshot.ai}). */
    protected Set<String> hosts() {
        return own.hosts();
    }

    /** Renames or drops parameters the vendor spells differently, on the finished body. */
    protected void adaptBody(ObjectNode body, boolean streaming) {
    }

    /** The usage of an answer: OpenAI's, with the dialect's own cached-token field where it has one. */
    protected TokenUsage usage(JsonNode usage) {
        String cachedField = own.cachedTokensField();
        return openAiUsage(usage, cachedField == null ? -1 : Json.longOr(usage, cachedField, -1));
    }

    /** OpenAI usage; {@code cached} (when not negative) stands in for a missing {@code prompt_tokens_details}. */
    private static TokenUsage openAiUsage(JsonNode usage, long cached) {
        if (usage == null || !usage.isObject()) {
            return TokenUsage.NONE;
        }
        long input = Json.longOr(usage, "prompt_tokens", 0);
        long output = Json.longOr(usage, "completion_tokens", 0);
        long details = Json.longOr(usage.get("prompt_tokens_details"), "cached_tokens", -1);
        long hits = details >= 0 ? details : Math.max(cached, 0);
        return new TokenUsage(input, Math.min(hits, input), output);
    }

    /**
     * The dialect this provider speaks: for the generic adapter, the registered dialect whose {@link #hosts()}
     * hold the {@code base_url}'s host, or whose api the {@code dialect} setting names; else this adapter.
     */
    @Override
    public ProviderAdapter dialect(ProviderSpec provider) {
        if (getClass() != OpenAiAdapter.class) {
            return this;
        }
        String named = provider.setting("dialect", null);
        String host = host(provider.baseUrl());
        for (ProviderAdapter candidate : ProviderAdapters.all()) {
            if (candidate instanceof OpenAiAdapter d && d != this && (named != null ? named.equals(d.api())
                    : host != null && d.hosts().contains(host))) {
                return d;
            }
        }
        return this;
    }

    private static String host(String url) {
        try {
            return url == null ? null : java.net.URI.create(url).getHost();
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private List<ErrorRule> rules() {
        List<ErrorRule> r = rules;
        if (r == null) {
            List<ErrorRule> all = new ArrayList<>(dialectRules());
            all.addAll(RULES);
            rules = r = List.copyOf(all);
        }
        return r;
    }

    @Override
    public String endpoint(ProviderSpec provider, DeploymentSpec deployment) {
        String base = AdapterSupport.baseUrl(provider, defaultBaseUrl(provider));
        return base.endsWith("/chat/completions") ? base : base + "/chat/completions"; // tolerate a full URL
    }

    @Override
    public Map<String, String> requestHeaders(ProviderSpec provider, String apiKey) {
        return AdapterSupport.jsonHeaders(provider, "Authorization", "Bearer " + apiKey);
    }

    @Override
    public byte[] requestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode body = Json.object();
        body.put("model", deployment.model());
        body.set("messages", request.messages() == null ? Json.array() : request.messages().deepCopy());
        String maxTokensParam = provider.setting("max_tokens_param", "max_tokens");
        if (request.params() != null) {
            for (Map.Entry<String, JsonNode> f : request.params().properties()) {
                if (NOT_PASSED.contains(f.getKey()) || f.getValue() == null || f.getValue().isNull()) {
                    continue;
                }
                String name = f.getKey().equals("max_tokens") ? maxTokensParam : f.getKey();
                if (!body.has(name)) {
                    body.set(name, f.getValue().deepCopy());
                }
            }
        }
        adaptBody(body, false);
        return Json.bytes(body);
    }

    @Override
    public ProviderReply readResponse(int status, Map<String, Object> headers, byte[] body, DeploymentSpec deployment) {
        if (status < 200 || status >= 300) {
            throw error(status, headers, body);
        }
        JsonNode root = AdapterSupport.parseSuccess(status, body, api());
        JsonNode choices = root.get("choices");
        if (choices == null || !choices.isArray() || choices.isEmpty()) {
            if (root.has("error")) { // some gateways answer errors with 200
                throw error(status, headers, body);
            }
            throw AdapterSupport.malformed(status, api(), "no choices");
        }
        JsonNode choice = choices.get(0);
        JsonNode msg = choice.get("message");
        if (msg == null || !msg.isObject()) {
            throw AdapterSupport.malformed(status, api(), "choice without message");
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

    /** Classifies a non-success answer with the dialect's rules, then OpenAI's. */
    protected ProviderError error(int status, Map<String, Object> headers, byte[] body) {
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
        return AdapterSupport.classified(api(), rules(), status, codes, code, text, body, null, headers);
    }

    @Override
    public boolean streams() {
        return true;
    }

    /** The ordinary body with {@code stream: true} and {@code stream_options.include_usage}, so streams are billed. */
    @Override
    public byte[] streamRequestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode body = AdapterSupport.streaming(requestBody(request, provider, deployment));
        body.putObject("stream_options").put("include_usage", true);
        adaptBody(body, true);
        return Json.bytes(body);
    }

    @Override
    public io.caravan.provider.ProviderStream openStream(java.io.InputStream body, Map<String, Object> headers,
            DeploymentSpec deployment, Runnable abort) {
        return io.caravan.provider.FramedStream.sse(api(), body, new OpenAiStreamTranslator(this, headers), abort);
    }
}
