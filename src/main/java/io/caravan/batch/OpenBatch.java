package io.caravan.batch;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One provider batch and the tasks in it, as recorded on the compacted topic {@code llm.batches} (key: its id):
 * {@code collected} (recorded, not yet at the provider), {@code submitted} (the provider has it, with its own id).
 * {@code settled} marks the tasks already answered or sent online, so a late row for one is dropped. Every write
 * raises {@code version}; an instance keeps the newest version it has seen.
 */
public final class OpenBatch {

    public enum State { COLLECTED, SUBMITTED }

    private final String id;
    private final String deployment;
    private final String provider;
    private final Instant created;
    private final List<BatchTask> tasks;
    private final BitSet settled;
    private State state;
    private long version;
    private Instant submitted;
    private String providerBatchId;
    private String providerState;
    private String keyId;
    private int submitFailures;
    private String lastError;
    // this instance's own bookkeeping, never recorded
    private volatile int partition = -1;
    private Instant nextPoll = Instant.EPOCH;

    public OpenBatch(String id, String deployment, String provider, Instant created, List<BatchTask> tasks) {
        this(id, deployment, provider, created, tasks, new BitSet(tasks.size()), State.COLLECTED, 0);
    }

    private OpenBatch(String id, String deployment, String provider, Instant created, List<BatchTask> tasks,
            BitSet settled, State state, long version) {
        this.id = id;
        this.deployment = deployment;
        this.provider = provider;
        this.created = created;
        this.tasks = List.copyOf(tasks);
        this.settled = settled;
        this.state = state;
        this.version = version;
    }

    public String id() { return id; }
    public String deployment() { return deployment; }
    public String provider() { return provider; }
    public Instant created() { return created; }
    public List<BatchTask> tasks() { return tasks; }
    public synchronized State state() { return state; }
    public synchronized long version() { return version; }
    public synchronized Instant submitted() { return submitted; }
    public synchronized String providerBatchId() { return providerBatchId; }
    public synchronized String providerState() { return providerState; }
    public synchronized String keyId() { return keyId; }
    public synchronized int submitFailures() { return submitFailures; }
    public synchronized String lastError() { return lastError; }
    public int partition() { return partition; }
    public void partition(int partition) { this.partition = partition; }
    public synchronized Instant nextPoll() { return nextPoll; }
    public synchronized void nextPoll(Instant at) { this.nextPoll = at; }

    public synchronized void submittedAs(String providerBatchId, String keyId, Instant at) {
        this.state = State.SUBMITTED;
        this.providerBatchId = providerBatchId;
        this.keyId = keyId;
        this.submitted = at;
        this.providerState = "submitted";
    }

    public synchronized void submitFailed(String error) {
        this.submitFailures++;
        this.lastError = error;
    }

    /** The provider's word for the batch's state; true when it changed. */
    public synchronized boolean providerState(String state) {
        boolean changed = state != null && !state.equals(providerState);
        this.providerState = state;
        return changed;
    }

    /** Marks a task answered or sent online; false when it already was (its row or rescue comes late). */
    public synchronized boolean settle(int index) {
        if (settled.get(index)) {
            return false;
        }
        settled.set(index);
        return true;
    }

    public synchronized boolean settled(int index) {
        return settled.get(index);
    }

    public synchronized int unsettled() {
        return tasks.size() - settled.cardinality();
    }

    public synchronized boolean allSettled() {
        return settled.cardinality() >= tasks.size();
    }

    /** The indices of unsettled tasks. */
    public synchronized List<Integer> open() {
        List<Integer> open = new ArrayList<>();
        for (int i = settled.nextClearBit(0); i < tasks.size(); i = settled.nextClearBit(i + 1)) {
            open.add(i);
        }
        return open;
    }

    /** The record of this batch, one version newer. */
    public synchronized byte[] record() {
        version++;
        ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
        try (JsonGenerator g = Json.MAPPER.getFactory().createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("id", id);
            g.writeNumberField("version", version);
            g.writeStringField("deployment", deployment);
            g.writeStringField("provider", provider);
            g.writeStringField("state", state.name().toLowerCase(java.util.Locale.ROOT));
            g.writeStringField("created", created.toString());
            g.writeStringField("submitted", submitted == null ? null : submitted.toString());
            g.writeStringField("provider_batch_id", providerBatchId);
            g.writeStringField("provider_state", providerState);
            g.writeStringField("key_id", keyId);
            g.writeNumberField("submit_failures", submitFailures);
            g.writeStringField("last_error", lastError);
            g.writeArrayFieldStart("settled");
            for (int i = settled.nextSetBit(0); i >= 0; i = settled.nextSetBit(i + 1)) {
                g.writeNumber(i);
            }
            g.writeEndArray();
            g.writeArrayFieldStart("tasks");
            for (BatchTask t : tasks) {
                g.writeStartObject();
                g.writeStringField("id", t.id());
                g.writeStringField("deadline", t.deadline().toString());
                g.writeStringField("key", t.recordKey());
                g.writeStringField("tier", t.tier());
                g.writeStringField("group", t.group());
                g.writeStringField("reason", t.routingReason());
                g.writeObjectFieldStart("headers");
                for (Map.Entry<String, byte[]> h : t.headers().entrySet()) {
                    g.writeStringField(h.getKey(), Base64.getEncoder().encodeToString(h.getValue()));
                }
                g.writeEndObject();
                // the task as it came: valid JSON (it was parsed), written as is
                g.writeFieldName("task");
                g.writeRawValue(new String(t.bytes(), java.nio.charset.StandardCharsets.UTF_8));
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** Reads a record of {@code llm.batches}; throws IllegalArgumentException when it is not one. */
    public static OpenBatch read(byte[] bytes) {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(bytes);
        } catch (IOException e) {
            throw new IllegalArgumentException("not JSON: " + e.getMessage());
        }
        if (n == null || !n.isObject() || !n.hasNonNull("id") || !n.path("tasks").isArray()) {
            throw new IllegalArgumentException("not a batch record");
        }
        List<BatchTask> tasks = new ArrayList<>();
        for (JsonNode t : n.get("tasks")) {
            Map<String, byte[]> headers = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> h : t.path("headers").properties()) {
                headers.put(h.getKey(), Base64.getDecoder().decode(h.getValue().asText()));
            }
            tasks.add(new BatchTask(t.get("id").asText(), Instant.parse(t.get("deadline").asText()),
                    Json.textOrNull(t, "key"), headers, Json.bytes(t.get("task")), Json.textOrNull(t, "tier"),
                    Json.textOrNull(t, "group"), Json.textOrNull(t, "reason")));
        }
        BitSet settled = new BitSet(tasks.size());
        for (JsonNode i : n.path("settled")) {
            settled.set(i.asInt());
        }
        OpenBatch b = new OpenBatch(n.get("id").asText(), Json.textOrNull(n, "deployment"),
                Json.textOrNull(n, "provider"), Instant.parse(n.get("created").asText()), tasks, settled,
                "submitted".equals(Json.textOrNull(n, "state")) ? State.SUBMITTED : State.COLLECTED,
                n.path("version").asLong());
        b.submitted = n.hasNonNull("submitted") ? Instant.parse(n.get("submitted").asText()) : null;
        b.providerBatchId = Json.textOrNull(n, "provider_batch_id");
        b.providerState = Json.textOrNull(n, "provider_state");
        b.keyId = Json.textOrNull(n, "key_id");
        b.submitFailures = n.path("submit_failures").asInt();
        b.lastError = Json.textOrNull(n, "last_error");
        return b;
    }
}
