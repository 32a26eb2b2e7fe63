package io.caravan.task;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.TokenUsage;
import io.caravan.provider.ProviderStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.camel.Exchange;

/**
 * Everything Caravan knows about one task while it flows through the routes. It travels as the exchange
 * property {@link #PROPERTY}, so every step (and every copy Camel makes of the exchange) sees the same state.
 *
 * <p>Threading: one thread at a time works on a task (the route's thread, or the stream writer once it holds the
 * answer); Camel's hand-offs between threads publish its plain fields. Other threads touch only what is marked
 * for them: the caller's departure and the call's abort (set from the Vert.x event loop), the stream, and the
 * attempt list, which this class guards itself: {@link #attempts()} is a snapshot, and callers never lock it.
 */
public final class TaskContext {

    public static final String PROPERTY = "caravanTask";
    /** The path that serves a task (contract section 10): a call now, or a provider batch. */
    public static final String MODE_ONLINE = "online";
    public static final String MODE_BATCH = "batch";

    /** The task an exchange carries (null before the intake opened it). */
    public static TaskContext of(Exchange exchange) {
        return exchange.getProperty(PROPERTY, TaskContext.class);
    }

    /** Where the task came from; decides how its result leaves. */
    public enum Source { KAFKA, HTTP, CHAT, BATCH }

    private final Task task;
    private final Source source;
    private final Catalog catalog;
    private final long startedNanos = System.nanoTime();
    private final long deadlineNanos;
    /** Guarded by itself; only this class touches it. */
    private final List<Attempt> attempts = new ArrayList<>();

    private Map<String, byte[]> recordHeaders = Map.of();
    private String tier;
    private String routingReason;
    private String group;
    private List<Candidate> plan = List.of();
    private String firstChoice;
    private int cursor = -1;
    private ProviderReply reply;
    private Candidate answeredBy;
    private TaskError error;
    private volatile Long retryAfterMs;
    private volatile ProviderStream stream;
    private volatile java.time.Instant firstChunkAt;
    private volatile boolean callerGone;
    private volatile Runnable callAbort;
    private volatile String mode = MODE_ONLINE;

    // the call in progress on the current candidate
    private int callKey = -1;
    private String callKeyId;
    private Long callRetryAfterMs;
    private io.caravan.provider.Headroom callHeadroom;
    private long callTokens;
    private long callStartNanos;
    private int retriesUsed;
    private String lastFailureMessage;
    private int roundStart;
    private int cooldownWaits;
    private long pendingWaitMs;

    /**
     * A deployment to try, with the group it was planned for and, when an answer from it is a fallback (it is not
     * the first deployment of the task's plan), that first deployment's id; null otherwise.
     */
    public record Candidate(DeploymentSpec deployment, String group, String fallbackFrom) {

        /** Whether an answer from this candidate is a fallback (docs/routing-and-fallback.md, Fallback). */
        public boolean fallback() {
            return fallbackFrom != null;
        }
    }

    public TaskContext(Task task, Source source, Catalog catalog, long defaultTimeoutMs) {
        this.task = task;
        this.source = source;
        this.catalog = catalog;
        long timeoutMs = task.timeoutMs() != null ? task.timeoutMs() : defaultTimeoutMs;
        this.deadlineNanos = startedNanos + timeoutMs * 1_000_000L;
    }

    public Task task() { return task; }
    public Source source() { return source; }
    /** The catalog in force when the task arrived; a reload never changes a task in flight. */
    public Catalog catalog() { return catalog; }

    public long elapsedMs() {
        return (System.nanoTime() - startedNanos) / 1_000_000L;
    }

    public long remainingMs() {
        return Math.max(0, (deadlineNanos - System.nanoTime()) / 1_000_000L);
    }

    public boolean pastDeadline() {
        return System.nanoTime() >= deadlineNanos;
    }

    /** {@link #MODE_ONLINE} or {@link #MODE_BATCH}: the path that served (or will serve) the task. */
    public String mode() { return mode; }
    public void mode(String mode) { this.mode = mode; }

    public Map<String, byte[]> recordHeaders() { return recordHeaders; }
    public void recordHeaders(Map<String, byte[]> headers) { this.recordHeaders = headers; }

    public String tier() { return tier; }
    public String routingReason() { return routingReason; }
    public String group() { return group; }

    public void route(String tier, String group, String reason) {
        this.tier = tier;
        this.group = group;
        this.routingReason = reason;
        this.firstChoice = null; // a new routing (escalation) has a plan of its own
    }

    /**
     * The deployment id first in the task's plan as it was first laid out for its routing, or null before that;
     * an answer from any other deployment is a fallback. Later plans (after a cooldown wait, for a context-window
     * error) keep it.
     */
    public String firstChoice() { return firstChoice; }

    public List<Candidate> plan() { return plan; }

    public void plan(List<Candidate> candidates) {
        this.plan = List.copyOf(candidates);
        if (firstChoice == null && !plan.isEmpty()) {
            firstChoice = plan.get(0).deployment().id();
        }
        this.cursor = -1;
        this.roundStart = attemptCount();
    }

    /** The attempts made since the plan was last laid out. */
    public List<Attempt> attemptsThisRound() {
        synchronized (attempts) {
            return List.copyOf(attempts.subList(Math.min(roundStart, attempts.size()), attempts.size()));
        }
    }

    public int cooldownWaits() { return cooldownWaits; }

    /** Records a wait for a cooling deployment or key before the plan is tried again. */
    public void waitForCooldown(long millis) {
        cooldownWaits++;
        pendingWaitMs = millis;
    }

    public long pendingWaitMs() { return pendingWaitMs; }

    /** Moves to the next candidate; null when the plan is used up. */
    public Candidate advance() {
        cursor++;
        retriesUsed = 0;
        return cursor < plan.size() ? plan.get(cursor) : null;
    }

    public Candidate current() {
        return cursor >= 0 && cursor < plan.size() ? plan.get(cursor) : null;
    }

    /** The attempts so far, oldest first: a snapshot. */
    public List<Attempt> attempts() {
        synchronized (attempts) {
            return List.copyOf(attempts);
        }
    }

    public int attemptCount() {
        synchronized (attempts) {
            return attempts.size();
        }
    }

    /** How many attempts so far ended so. */
    public int count(Outcome outcome) {
        synchronized (attempts) {
            return (int) attempts.stream().filter(a -> a.outcome() == outcome).count();
        }
    }

    /** The attempt before the last, or null. */
    public Attempt previousAttempt() {
        synchronized (attempts) {
            return attempts.size() < 2 ? null : attempts.get(attempts.size() - 2);
        }
    }

    /** Gives the last attempt another outcome (an answer sent one tier up becomes {@link Outcome#ESCALATED}). */
    public void relabelLastAttempt(Outcome outcome) {
        synchronized (attempts) {
            int last = attempts.size() - 1;
            attempts.set(last, attempts.get(last).withOutcome(outcome));
        }
    }

    /**
     * Marks the start of a call with the key at {@code keyIndex} (-1 for providers without keys), which took
     * {@code tokens} (the call's estimate) from that key's tpm bucket.
     */
    public void beginCall(int keyIndex, String keyId, long tokens) {
        this.callKey = keyIndex;
        this.callKeyId = keyId;
        this.callRetryAfterMs = null;
        this.callHeadroom = null;
        this.callTokens = tokens;
        this.callStartNanos = System.nanoTime();
    }

    /** What the provider's answer to the call in progress said of its limits; the attempt recorded next carries it. */
    public void callLimits(Long retryAfterMs, io.caravan.provider.Headroom headroom) {
        if (retryAfterMs != null) {
            this.callRetryAfterMs = retryAfterMs;
        }
        if (headroom != null) {
            this.callHeadroom = headroom;
        }
    }

    /** The tokens the call in progress took from its key's tpm bucket. */
    public long callTokens() { return callTokens; }

    /** The key index of the call in progress, or -1. */
    public int callKey() { return callKey; }

    /** Milliseconds since the call began, or 0 when no call began (a deployment skipped without a call). */
    public long endCall() {
        callAbort = null;
        long latency = callStartNanos == 0 ? 0 : (System.nanoTime() - callStartNanos) / 1_000_000L;
        callStartNanos = 0;
        return latency;
    }

    public boolean callStarted() { return callStartNanos != 0; }

    public int retriesUsed() { return retriesUsed; }
    public void countRetry() { retriesUsed++; }

    public String lastFailureMessage() { return lastFailureMessage; }
    public void lastFailureMessage(String message) { this.lastFailureMessage = message; }

    public Attempt lastAttempt() {
        synchronized (attempts) {
            return attempts.isEmpty() ? null : attempts.get(attempts.size() - 1);
        }
    }

    /** Adds an attempt made elsewhere (a provider batch's answer to this task), as it is. */
    public void addAttempt(Attempt attempt) {
        synchronized (attempts) {
            attempts.add(attempt);
        }
    }

    public int nextAttemptNumber() {
        return attemptCount() + 1;
    }

    /**
     * Records an attempt on this candidate, numbered and time-stamped now, its cost priced from the deployment's
     * price ({@code usage} NONE for attempts that used no tokens); a fallback when the candidate is one.
     */
    public Attempt record(Candidate at, Outcome outcome, Integer status, long latencyMs, TokenUsage usage) {
        return record(at, outcome, status, latencyMs, usage, false);
    }

    /** {@link #record}, for an attempt that may have been passed over without a call ({@code skipped}). */
    public Attempt record(Candidate at, Outcome outcome, Integer status, long latencyMs, TokenUsage usage,
            boolean skipped) {
        DeploymentSpec d = at.deployment();
        double cost = d.price().cost(usage.input(), usage.cachedInput(), usage.output());
        // the call's key and what the provider said of its limits belong to this attempt only
        Attempt attempt;
        synchronized (attempts) {
            attempt = new Attempt(attempts.size() + 1, java.time.Instant.now(), at.group(), d.id(), d.provider(),
                    d.model(), outcome, status, latencyMs, usage, cost, at.fallback(), callKeyId, callRetryAfterMs,
                    callHeadroom, skipped);
            attempts.add(attempt);
        }
        callKeyId = null;
        callRetryAfterMs = null;
        callHeadroom = null;
        return attempt;
    }

    public ProviderReply reply() { return reply; }
    public Candidate answeredBy() { return answeredBy; }

    public void succeed(ProviderReply reply, Candidate by) {
        this.reply = reply;
        this.answeredBy = by;
        this.error = null;
    }

    /** An answer still streaming to the caller (a streaming chat request), or null. */
    public ProviderStream stream() { return stream; }

    /**
     * The candidate's answer is a stream whose first event arrived: the task is routed and the intake takes the
     * stream over; the answering attempt is recorded when the stream ends.
     */
    public void streaming(ProviderStream stream, Candidate by) {
        this.firstChunkAt = java.time.Instant.now();
        this.stream = stream;
        this.answeredBy = by;
        this.error = null;
    }

    /** When the streamed answer's first delta arrived (time to first chunk, for traces and metrics), or null. */
    public java.time.Instant firstChunkAt() { return firstChunkAt; }

    /** The HTTP caller went away: the call in flight is aborted and no further deployment is tried. */
    public boolean callerGone() { return callerGone; }

    public void markCallerGone() {
        this.callerGone = true;
        Runnable abort = callAbort;
        if (abort != null) {
            abort.run();
        }
    }

    /** How to abort the upstream call in flight; run at once if the caller has already gone. */
    public void abortCallWith(Runnable abort) {
        this.callAbort = abort;
        if (callerGone) {
            abort.run();
        }
    }

    /** Takes back an answer so the task is dispatched again (progressive escalation to a higher tier). */
    public void reopen() {
        this.reply = null;
        this.answeredBy = null;
    }

    public TaskError error() { return error; }

    /** How long the caller should wait before trying again (a tenant over its rate), or null. */
    public Long retryAfterMs() { return retryAfterMs; }
    public void retryAfterMs(long millis) { this.retryAfterMs = millis; }

    public void fail(TaskError error) {
        this.error = error;
    }

    public boolean done() {
        return reply != null || error != null || stream != null;
    }

    public ObjectNode metadata() {
        return task.metadata();
    }

    public double totalCost() {
        synchronized (attempts) {
            return attempts.stream().mapToDouble(Attempt::costUsd).sum();
        }
    }
}
