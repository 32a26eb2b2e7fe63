package io.caravan.provider;

import java.util.List;

import java.time.Duration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.ProviderSpec;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Json;
import java.io.IOException;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/** Small helpers the HTTP adapters share: header lookup, body parsing, error text, OpenAI content text. */
public final class AdapterSupport {

    private AdapterSupport() {}

    /** The first value of a header, its name matched in any case; null when absent. */
    public static String header(Map<String, Object> headers, String name) {
        if (headers == null) {
            return null;
        }
        for (Map.Entry<String, Object> e : headers.entrySet()) {
            if (e.getKey() != null && e.getKey().equalsIgnoreCase(name)) {
                Object v = e.getValue();
                if (v instanceof Collection<?> c) {
                    v = c.isEmpty() ? null : c.iterator().next();
                } else if (v instanceof Object[] a) {
                    v = a.length == 0 ? null : a[0];
                }
                if (v != null) {
                    return String.valueOf(v);
                }
            }
        }
        return null;
    }

    /** The body as JSON, or null when it is empty or not JSON. */
    public static JsonNode parseOrNull(byte[] body) {
        if (body == null || body.length == 0) {
            return null;
        }
        try {
            return Json.MAPPER.readTree(body);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** A success body that must be a JSON object; anything else is the provider's fault ({@code server_error}). */
    public static JsonNode parseSuccess(int status, byte[] body, String api) {
        JsonNode node = parseOrNull(body);
        if (node == null || !node.isObject()) {
            throw new ProviderError(ErrorClass.SERVER_ERROR, status,
                    "malformed response from " + api + " (" + (body == null ? 0 : body.length) + " bytes, not a JSON object)");
        }
        return node;
    }

    /** A request body of the adapter's own with {@code "stream": true} added. */
    public static ObjectNode streaming(byte[] requestBody) {
        ObjectNode body = (ObjectNode) parseOrNull(requestBody);
        body.put("stream", true);
        return body;
    }

    /** A malformed-response error for a body that is JSON but lacks what the API promises. */
    public static ProviderError malformed(int status, String api, String what) {
        return new ProviderError(ErrorClass.SERVER_ERROR, status, "malformed response from " + api + ": " + what);
    }

    /**
     * The start of a non-JSON error body (an HTML error page from a gateway, say): at least as much as a
     * {@link ProviderError} looks at, which makes it safe.
     */
    public static String snippet(byte[] body) {
        if (body == null || body.length == 0) {
            return "";
        }
        // up to 4 bytes a character: never fewer characters than the error looks at, so no key is cut here
        int n = Math.min(body.length, 4 * ProviderError.MAX_TEXT);
        return new String(body, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * The plain text of an OpenAI message {@code content}: a string, or an array of parts whose {@code text}
     * parts are joined with newlines. Null content gives an empty string.
     */
    public static String text(JsonNode content) {
        if (content == null || content.isNull() || content.isMissingNode()) {
            return "";
        }
        if (content.isTextual()) {
            return content.asText();
        }
        if (content.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : content) {
                String t = part.isTextual() ? part.asText() : Json.textOrNull(part, "text");
                if (t != null) {
                    if (sb.length() > 0) {
                        sb.append('\n');
                    }
                    sb.append(t);
                }
            }
            return sb.toString();
        }
        return content.toString();
    }

    /** The provider's {@code base_url} without trailing slashes. */
    public static String baseUrl(ProviderSpec provider, String fallback) {
        String base = provider.baseUrl() == null || provider.baseUrl().isBlank() ? fallback : provider.baseUrl().trim();
        if (base == null) {
            throw new IllegalArgumentException("provider '" + provider.name() + "' has no base_url");
        }
        while (base.endsWith("/")) {
            base = base.substring(0, base.length() - 1);
        }
        return base;
    }

    /**
     * JSON request and answer, then the adapter's header pairs ({@code name, value, ...}; a null value leaves its
     * header out), then the provider's extra {@code headers} as {@link #headers} adds them.
     */
    public static Map<String, String> jsonHeaders(ProviderSpec provider, String... pairs) {
        Map<String, String> own = new LinkedHashMap<>();
        own.put("Content-Type", "application/json");
        own.put("Accept", "application/json");
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            if (pairs[i + 1] != null) {
                own.put(pairs[i], pairs[i + 1]);
            }
        }
        return headers(provider, own);
    }

    /**
     * The adapter's own headers followed by the provider's extra {@code headers}; an extra header never replaces
     * one the adapter set (so the key stays in the one header the adapter chose).
     */
    public static Map<String, String> headers(ProviderSpec provider, Map<String, String> own) {
        Map<String, String> out = new LinkedHashMap<>(own);
        if (provider.headers() != null) {
            provider.headers().forEach((name, value) -> {
                boolean taken = out.keySet().stream().anyMatch(k -> k.equalsIgnoreCase(name));
                if (!taken && value != null) {
                    out.put(name, value);
                }
            });
        }
        return out;
    }

    /**
     * The request's OpenAI {@code tools} as the tool declarations Anthropic and Gemini both take: one object per
     * function with its {@code name} and, when given, {@code description}; {@code parameters} adds the function's
     * JSON Schema ({@code parameters}, possibly null) in the API's own form. Null when the request has no tools.
     */
    public static ArrayNode toolDeclarations(ObjectNode params, BiConsumer<ObjectNode, JsonNode> parameters) {
        JsonNode tools = params.get("tools");
        if (tools == null || !tools.isArray() || tools.isEmpty()) {
            return null;
        }
        ArrayNode declarations = Json.array();
        for (JsonNode tool : tools) {
            JsonNode fn = tool.has("function") ? tool.get("function") : tool;
            ObjectNode declaration = declarations.addObject();
            declaration.put("name", Json.textOrNull(fn, "name"));
            String description = Json.textOrNull(fn, "description");
            if (description != null) {
                declaration.put("description", description);
            }
            parameters.accept(declaration, fn.get("parameters"));
        }
        return declarations;
    }

    /** A {@code max_tokens} from params ({@code max_tokens} or {@code max_completion_tokens}), or null. */
    public static Integer maxTokens(ObjectNode params) {
        if (params == null) {
            return null;
        }
        for (String name : new String[] {"max_tokens", "max_completion_tokens"}) {
            JsonNode v = params.get(name);
            if (v != null && v.canConvertToInt()) {
                return v.asInt();
            }
        }
        return null;
    }

    /**
     * The classified error of a provider's answer: the class by the adapter's rules, a message
     * ({@code API STATUS CODE: text}, which {@link ProviderError} makes key-free), and a wait only for classes
     * worth waiting for: the server's own ({@code serverWait}, e.g. Gemini's RetryInfo) or else its Retry-After
     * headers.
     */
    public static ProviderError classified(String api, List<ErrorRule> rules, int status, Collection<String> codes,
            String shownCode, String text, byte[] body, Duration serverWait, Map<String, Object> headers) {
        String detail = text != null ? text : snippet(body);
        ErrorClass cls = ErrorRule.classify(rules, status, codes, detail);
        String message = api + " " + status + (shownCode == null ? "" : " " + shownCode) + ": " + detail;
        boolean waits = cls == ErrorClass.RATE_LIMITED || cls == ErrorClass.SERVER_ERROR || cls == ErrorClass.TIMEOUT;
        Duration wait = !waits ? null : serverWait != null ? serverWait : RetryAfter.parse(headers);
        return new ProviderError(cls, status, message, wait);
    }
}
