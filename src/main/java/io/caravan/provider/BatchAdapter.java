package io.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Json;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Speaks one provider's batch API beside its online adapter: builds the batch's request entries, submits them,
 * reads the batch's status, streams its result rows and cancels it. Like {@link ProviderAdapter} it holds no state;
 * the key reaches it per call. Every non-success answer is thrown as a classified {@link ProviderError}; a row's own
 * error (the provider could not answer that one request) is a {@link Row} carrying one, a failed attempt like any
 * other.
 */
public interface BatchAdapter {

    /** The catalog's {@code api:} value this adapter serves. */
    String api();

    /** One request of the batch, as the provider wants it in its input (a JSONL line or an inline entry). */
    byte[] entry(String customId, ChatRequest request, ProviderSpec provider, DeploymentSpec deployment);

    /** Uploads the entries (when the API takes a file) and creates the batch; returns the provider's batch id. */
    String submit(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key, List<byte[]> entries,
            String caravanBatchId, java.time.Duration window);

    /** The batch's state at the provider. */
    Status status(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key, String batchId);

    /** The result rows of a batch that has ended (completed, or expired/failed/cancelled with partial results). */
    Iterator<byte[]> results(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key,
            Status status);

    /** Reads one result row: which request it answers, and its answer or its error. */
    Row row(byte[] line, DeploymentSpec deployment);

    /** Asks the provider to cancel the batch (best effort). */
    void cancel(BatchHttp http, ProviderSpec provider, DeploymentSpec deployment, String key, String batchId);

    /** Where a provider batch is: still running, ended with every row, or ended early (some rows may exist). */
    enum Phase { RUNNING, COMPLETED, ENDED_EARLY }

    /**
     * A batch's status: the provider's own word for it ({@code state}), its phase, and where its results are
     * ({@code output}, {@code errors}: file ids or URLs, the provider's choice; null when none).
     */
    record Status(String state, Phase phase, String output, String errors, String message) {}

    /** One result row: the {@code customId} it answers, and either its reply or its error. */
    record Row(String customId, ProviderReply reply, ProviderError error) {

        /** A row holding an answer as the online API gives it, read by the online adapter (its error if it is one). */
        public static Row answered(String customId, ProviderAdapter online, int status, JsonNode answer,
                DeploymentSpec deployment) {
            try {
                return new Row(customId, online.readResponse(status, Map.of(), Json.bytes(answer), deployment), null);
            } catch (ProviderError e) {
                return new Row(customId, null, e);
            }
        }
    }
}
