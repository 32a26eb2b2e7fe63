package io.caravan.provider.gemini;

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
import io.caravan.util.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Gemini batch mode with inline requests: {@code POST {base_url}/v1beta/models/{model}:batchGenerateContent} with
 * {@code {"batch": {"display_name", "input_config": {"requests": {"requests": [{"request": {...}, "metadata":
 * {"key"}}]}}}}} (each request the body the online adapter builds), then {@code GET {base_url}/v1beta/{name}} until
 * its {@code metadata.state} leaves {@code BATCH_STATE_PENDING}/{@code RUNNING}; the answers are inline in
 * {@code response.inlinedResponses.inlinedResponses}, each a GenerateContentResponse or an {@code error} (a
 * google.rpc.Status, classified like the same error online). {@code BATCH_STATE_EXPIRED}, {@code FAILED} and
 * {@code CANCELLED} end the batch early.
 */
public final class GeminiBatchAdapter implements BatchAdapter {

    private final GeminiAdapter online = new GeminiAdapter();

    @Override
    public String api() {
        return GeminiAdapter.API;
    }

    @Override
    public byte[] entry(String customId, ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode entry = Json.object();
        entry.set("request", AdapterSupport.parseOrNull(online.requestBody(request, provider, deployment)));
        entry.putObject("metadata").put("key", customId);
        return Json.bytes(entry);
    }

    @Override
    public String submit(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key,
            List<byte[]> entries, String caravanBatchId, Duration window) {
        ObjectNode body = Json.object();
        ObjectNode batch = body.putObject("batch");
        batch.put("display_name", caravanBatchId);
        ArrayNode requests = batch.putObject("input_config").putObject("requests").putArray("requests");
        for (byte[] e : entries) {
            requests.add(AdapterSupport.parseOrNull(e));
        }
        String url = online.endpoint(provider, deployment).replace(":generateContent", ":batchGenerateContent");
        JsonNode created = ok(http.post(url, headers(provider, key), Json.bytes(body)));
        String name = Json.textOrNull(created, "name");
        if (name == null) {
            throw AdapterSupport.malformed(200, api(), "batch creation answer without name");
        }
        return name;
    }

    @Override
    public Status status(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key,
            String batchId) {
        JsonNode op = ok(http.get(base(provider) + "/v1beta/" + batchId, headers(provider, key)));
        String state = op.path("metadata").path("state").asText(op.path("state").asText(null));
        Phase phase = switch (state == null ? "" : state) {
            case "BATCH_STATE_SUCCEEDED" -> Phase.COMPLETED;
            case "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED" -> Phase.ENDED_EARLY;
            default -> Phase.RUNNING;
        };
        String message = op.has("error") ? Json.textOrNull(op.get("error"), "message") : null;
        return new Status(state, phase, batchId, null, message);
    }

    @Override
    public Iterator<byte[]> results(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key,
            Status status) {
        JsonNode op = ok(http.get(base(provider) + "/v1beta/" + status.output(), headers(provider, key)));
        JsonNode responses = op.path("response").path("inlinedResponses").path("inlinedResponses");
        List<byte[]> rows = new ArrayList<>();
        for (int i = 0; responses.isArray() && i < responses.size(); i++) {
            ObjectNode row = (ObjectNode) responses.get(i).deepCopy();
            if (!row.path("metadata").has("key")) {
                // inline answers come in request order: the position names the request
                row.putObject("metadata").put("key", "c" + i);
            }
            rows.add(Json.bytes(row));
        }
        return rows.iterator();
    }

    @Override
    public Row row(byte[] line, DeploymentSpec deployment) {
        JsonNode row = AdapterSupport.parseOrNull(line);
        String customId = row == null ? null : row.path("metadata").path("key").asText(null);
        if (row != null && row.has("response")) {
            return Row.answered(customId, online, 200, row.get("response"), deployment);
        }
        if (row != null && row.has("error")) {
            JsonNode error = row.get("error");
            int code = error.path("code").asInt(0);
            int status = switch (code) {
                case 3 -> 400;   // INVALID_ARGUMENT
                case 4 -> 504;   // DEADLINE_EXCEEDED
                case 5 -> 404;   // NOT_FOUND
                case 7 -> 403;   // PERMISSION_DENIED
                case 8 -> 429;   // RESOURCE_EXHAUSTED
                case 16 -> 401;  // UNAUTHENTICATED
                default -> code >= 400 ? code : 500;
            };
            ObjectNode wrapped = Json.object();
            wrapped.set("error", error);
            return new Row(customId, null, GeminiAdapter.error(status, Map.of(), Json.bytes(wrapped)));
        }
        return new Row(customId, null, new ProviderError(ErrorClass.SERVER_ERROR, null,
                "batch result row without response or error"));
    }

    @Override
    public void cancel(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key, String batchId) {
        ok(http.post(base(provider) + "/v1beta/" + batchId + ":cancel", headers(provider, key), new byte[0]));
    }

    private JsonNode ok(BatchHttp.Answer answer) {
        return answer.json(api(), a -> GeminiAdapter.error(a.status(), a.headers(), a.body()));
    }

    private Map<String, String> headers(ProviderSpec provider, String key) {
        return new LinkedHashMap<>(online.requestHeaders(provider, key));
    }

    private static String base(ProviderSpec provider) {
        String base = AdapterSupport.baseUrl(provider, GeminiAdapter.DEFAULT_BASE_URL);
        return base.endsWith("/v1beta") ? base.substring(0, base.length() - 7) : base;
    }
}
