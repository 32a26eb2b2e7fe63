package io.caravan.provider.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.AdapterSupport;
import io.caravan.provider.BatchAdapter;
import io.caravan.provider.BatchHttp;
import io.caravan.provider.ChatRequest;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.util.BoundedLines;
import io.caravan.util.Json;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Anthropic Message Batches: {@code POST {base_url}/v1/messages/batches} with the requests inline
 * ({@code {"requests": [{"custom_id", "params": {...}}]}}, each {@code params} the body the online adapter builds),
 * {@code GET .../batches/{id}} until {@code processing_status} is {@code ended}, then the JSONL at its
 * {@code results_url}, rows in any order: {@code result.type} {@code succeeded} (a Message, read like an online
 * answer), {@code errored} (classified like the same error online), {@code canceled} or {@code expired} (a
 * {@code timeout}: the task goes online). The window is Anthropic's own (24 hours); it is not sent.
 */
public final class AnthropicBatchAdapter implements BatchAdapter {

    private final AnthropicAdapter online = new AnthropicAdapter();
    private final int maxLineBytes;

    public AnthropicBatchAdapter(int maxLineBytes) {
        this.maxLineBytes = maxLineBytes;
    }

    @Override
    public String api() {
        return AnthropicAdapter.API;
    }

    @Override
    public byte[] entry(String customId, ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode entry = Json.object();
        entry.put("custom_id", customId);
        entry.set("params", AdapterSupport.parseOrNull(online.requestBody(request, provider, deployment)));
        return Json.bytes(entry);
    }

    @Override
    public String submit(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key,
            List<byte[]> entries, String caravanBatchId, Duration window) {
        ObjectNode body = Json.object();
        ArrayNode requests = body.putArray("requests");
        for (byte[] e : entries) {
            requests.add(AdapterSupport.parseOrNull(e));
        }
        JsonNode created = ok(http.post(base(provider) + "/v1/messages/batches", headers(provider, key),
                Json.bytes(body)));
        String id = Json.textOrNull(created, "id");
        if (id == null) {
            throw AdapterSupport.malformed(200, api(), "batch creation answer without id");
        }
        return id;
    }

    @Override
    public Status status(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key,
            String batchId) {
        JsonNode batch = ok(http.get(base(provider) + "/v1/messages/batches/" + batchId, headers(provider, key)));
        String state = Json.textOrNull(batch, "processing_status");
        // "ended" holds a row for every request (expired and canceled ones included)
        Phase phase = "ended".equals(state) ? Phase.COMPLETED : Phase.RUNNING;
        return new Status(state, phase, Json.textOrNull(batch, "results_url"), null, null);
    }

    @Override
    public Iterator<byte[]> results(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key,
            Status status) {
        Map<String, String> headers = headers(provider, key);
        return new BoundedLines(maxLineBytes, () -> status.output() == null ? null
                : http.stream(status.output(), headers, a -> AnthropicAdapter.error(a.status(), a.headers(), a.body())));
    }

    @Override
    public Row row(byte[] line, DeploymentSpec deployment) {
        JsonNode row = AdapterSupport.parseOrNull(line);
        String customId = row == null ? null : Json.textOrNull(row, "custom_id");
        JsonNode result = row == null ? null : row.get("result");
        if (customId == null || result == null) {
            return new Row(customId, null, AdapterSupport.malformed(200, api(), "batch result row without result"));
        }
        String type = Json.textOrNull(result, "type");
        if ("succeeded".equals(type)) {
            return Row.answered(customId, online, 200, result.get("message"), deployment);
        }
        if ("errored".equals(type)) {
            JsonNode error = result.path("error");
            String inner = error.path("error").path("type").asText(error.path("type").asText(""));
            int status = switch (inner) {
                case "invalid_request_error" -> 400;
                case "authentication_error" -> 401;
                case "permission_error" -> 403;
                case "not_found_error" -> 404;
                case "rate_limit_error" -> 429;
                case "overloaded_error" -> 529;
                default -> 500;
            };
            return new Row(customId, null, AnthropicAdapter.error(status, Map.of(), Json.bytes(error)));
        }
        return new Row(customId, null, new ProviderError(ErrorClass.TIMEOUT, null,
                "batch request not answered (" + type + ")"));
    }

    @Override
    public void cancel(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key, String batchId) {
        ok(http.post(base(provider) + "/v1/messages/batches/" + batchId + "/cancel", headers(provider, key),
                new byte[0]));
    }

    private JsonNode ok(BatchHttp.Answer answer) {
        return answer.json(api(), a -> AnthropicAdapter.error(a.status(), a.headers(), a.body()));
    }

    private Map<String, String> headers(ProviderSpec provider, String key) {
        return new java.util.LinkedHashMap<>(online.requestHeaders(provider, key));
    }

    private static String base(ProviderSpec provider) {
        String base = AdapterSupport.baseUrl(provider, AnthropicAdapter.DEFAULT_BASE_URL);
        return base.endsWith("/v1") ? base.substring(0, base.length() - 3) : base;
    }
}
