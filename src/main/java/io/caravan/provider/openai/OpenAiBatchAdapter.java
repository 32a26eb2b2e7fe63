package io.caravan.provider.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.AdapterSupport;
import io.caravan.provider.BatchAdapter;
import io.caravan.provider.BatchHttp;
import io.caravan.provider.ChatRequest;
import io.caravan.provider.ProviderAdapters;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.util.BoundedLines;
import io.caravan.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The OpenAI Batch API, which Moonshot/Kimi and Qwen on DashScope copy: the requests go up as a JSONL file
 * ({@code POST {base_url}/files}, {@code purpose=batch}), one line per request
 * ({@code {"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {...}}}, the body built by the
 * online adapter), then {@code POST {base_url}/batches} creates the batch with the file and the provider's
 * {@code window} as {@code completion_window}. {@code GET {base_url}/batches/{id}} tells its status
 * ({@code validating}, {@code in_progress}, {@code finalizing}, {@code completed}; {@code failed}, {@code expired},
 * {@code cancelling}, {@code cancelled}); its {@code output_file_id} and {@code error_file_id} are read from
 * {@code GET {base_url}/files/{id}/content}. Rows come in any order, each {@code {"custom_id", "response":
 * {"status_code", "body"}, "error"}}: a non-200 {@code status_code} is classified like the same answer online; an
 * {@code error} without a response ({@code batch_expired}, {@code batch_cancelled}) is a {@code timeout}.
 */
public final class OpenAiBatchAdapter implements BatchAdapter {

    private final OpenAiAdapter online = new OpenAiAdapter();
    private final int maxLineBytes;

    public OpenAiBatchAdapter(int maxLineBytes) {
        this.maxLineBytes = maxLineBytes;
    }

    @Override
    public String api() {
        return OpenAiAdapter.API;
    }

    @Override
    public byte[] entry(String customId, ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode line = Json.object();
        line.put("custom_id", customId);
        line.put("method", "POST");
        line.put("url", provider.setting("batch_url", "/v1/chat/completions"));
        line.set("body", AdapterSupport.parseOrNull(online.requestBody(request, provider, deployment)));
        return Json.bytes(line);
    }

    @Override
    public String submit(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key,
            List<byte[]> entries, String caravanBatchId, java.time.Duration window) {
        String base = base(provider);
        String boundary = "caravan-" + UUID.randomUUID();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        try {
            body.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                    + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
                    + caravanBatchId + ".jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n")
                    .getBytes(StandardCharsets.UTF_8));
            for (byte[] entry : entries) {
                body.write(entry);
                body.write('\n');
            }
            body.write(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        Map<String, String> upload = headers(provider, key);
        upload.put("Content-Type", "multipart/form-data; boundary=" + boundary);
        BatchHttp.Answer file = http.post(base + "/files", upload, body.toByteArray());
        String fileId = Json.textOrNull(ok(provider, file), "id");
        if (fileId == null) {
            throw AdapterSupport.malformed(file.status(), "openai", "file upload answer without id");
        }
        ObjectNode create = Json.object();
        create.put("input_file_id", fileId);
        create.put("endpoint", provider.setting("batch_url", "/v1/chat/completions"));
        // OpenAI takes only "24h"; DashScope and Moonshot take longer windows in the same hour notation
        create.put("completion_window", Math.max(1, window.toHours()) + "h");
        create.putObject("metadata").put("caravan_batch", caravanBatchId);
        Map<String, String> json = headers(provider, key);
        json.put("Content-Type", "application/json");
        BatchHttp.Answer created = http.post(base + "/batches", json, Json.bytes(create));
        String id = Json.textOrNull(ok(provider, created), "id");
        if (id == null) {
            throw AdapterSupport.malformed(created.status(), "openai", "batch creation answer without id");
        }
        return id;
    }

    @Override
    public Status status(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key,
            String batchId) {
        JsonNode batch = ok(provider, http.get(base(provider) + "/batches/" + batchId, headers(provider, key)));
        String state = Json.textOrNull(batch, "status");
        Phase phase = switch (state == null ? "" : state) {
            case "completed" -> Phase.COMPLETED;
            case "failed", "expired", "cancelled" -> Phase.ENDED_EARLY;
            default -> Phase.RUNNING;
        };
        String message = null;
        JsonNode errors = batch.path("errors").path("data");
        if (errors.isArray() && !errors.isEmpty()) {
            message = Json.textOrNull(errors.get(0), "message");
        }
        return new Status(state, phase, Json.textOrNull(batch, "output_file_id"),
                Json.textOrNull(batch, "error_file_id"), message);
    }

    @Override
    public Iterator<byte[]> results(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key,
            Status status) {
        String base = base(provider);
        Map<String, String> headers = headers(provider, key);
        return new BoundedLines(maxLineBytes,
                () -> status.output() == null ? null
                        : http.stream(base + "/files/" + status.output() + "/content", headers, a -> error(provider, a)),
                () -> status.errors() == null ? null
                        : http.stream(base + "/files/" + status.errors() + "/content", headers, a -> error(provider, a)));
    }

    @Override
    public Row row(byte[] line, DeploymentSpec deployment) {
        JsonNode row = AdapterSupport.parseOrNull(line);
        String customId = row == null ? null : Json.textOrNull(row, "custom_id");
        if (customId == null) {
            return new Row(null, null, AdapterSupport.malformed(200, "openai", "batch result row without custom_id"));
        }
        JsonNode response = row.get("response");
        if (response != null && response.isObject() && response.has("status_code")) {
            return Row.answered(customId, online, response.get("status_code").asInt(), response.path("body"),
                    deployment);
        }
        JsonNode error = row.get("error");
        String code = error == null ? null : Json.textOrNull(error, "code");
        String message = error == null ? "batch row without response" : Json.textOrNull(error, "message");
        ErrorClass type = code != null && (code.contains("expired") || code.contains("cancel"))
                ? ErrorClass.TIMEOUT : ErrorClass.SERVER_ERROR;
        return new Row(customId, null, new ProviderError(type, null,
                "batch request not answered" + (code == null ? "" : " (" + code + ")")
                        + (message == null ? "" : ": " + message)));
    }

    @Override
    public void cancel(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key, String batchId) {
        Map<String, String> json = headers(provider, key);
        json.put("Content-Type", "application/json");
        ok(provider, http.post(base(provider) + "/batches/" + batchId + "/cancel", json, new byte[0]));
    }

    private JsonNode ok(ProviderSpec provider, BatchHttp.Answer answer) {
        return answer.json("openai", a -> error(provider, a));
    }

    /** The provider's dialect classifies the error, as it does for online calls. */
    private ProviderError error(ProviderSpec provider, BatchHttp.Answer answer) {
        OpenAiAdapter online = ProviderAdapters.forProvider(provider) instanceof OpenAiAdapter dialect ? dialect
                : (OpenAiAdapter) ProviderAdapters.forApi("openai");
        return online.error(answer.status(), answer.headers(), answer.body());
    }

    private static Map<String, String> headers(ProviderSpec provider, String key) {
        Map<String, String> own = new LinkedHashMap<>();
        own.put("Accept", "application/json");
        if (key != null) {
            own.put("Authorization", "Bearer " + key);
        }
        return AdapterSupport.headers(provider, own);
    }

    private static String base(ProviderSpec provider) {
        String base = AdapterSupport.baseUrl(provider, null);
        return base.endsWith("/chat/completions") ? base.substring(0, base.length() - "/chat/completions".length())
                : base;
    }
}
