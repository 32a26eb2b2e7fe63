package io.caravan.task;

import io.caravan.resilience.ErrorClass;
import java.util.EnumMap;
import java.util.Map;

/**
 * How an attempt ended: answered ({@link #OK}), failed with an error class, or one of the steps that are neither
 * (a wait for rpm/tpm capacity, an answer sent one tier up, an answer from the response cache). Its
 * {@link #wireName()} is the attempt's {@code outcome} in results, usage events and metrics.
 */
public final class Outcome {

    public static final Outcome OK = new Outcome("ok", null);
    /** A wait for rpm/tpm capacity: an attempt with no status whose latency is the wait. */
    public static final Outcome WAITED = new Outcome("waited", null);
    /** An answer that failed a quality gate and was sent one tier up (progressive escalation). */
    public static final Outcome ESCALATED = new Outcome("escalated", null);
    /** An answer from the response cache, no provider called. */
    public static final Outcome CACHE_HIT = new Outcome("cache_hit", null);
    /**
     * A task's, not an attempt's: taken for a provider batch (an HTTP caller got 202), its answer comes later. What
     * its span and {@code caravan_requests_total} say when the task route lets it go.
     */
    public static final Outcome ACCEPTED = new Outcome("accepted", null);
    /** What {@link #ofTask} names a task that ended none of its ways: a bug in Caravan. */
    public static final String UNKNOWN_TASK = "unknown";

    private static final Map<ErrorClass, Outcome> FAILURES = new EnumMap<>(ErrorClass.class);

    static {
        for (ErrorClass c : ErrorClass.values()) {
            FAILURES.put(c, new Outcome(c.wireName(), c));
        }
    }

    private final String wireName;
    private final ErrorClass failure;

    private Outcome(String wireName, ErrorClass failure) {
        this.wireName = wireName;
        this.failure = failure;
    }

    /** The outcome of an attempt that failed with this class. */
    public static Outcome failed(ErrorClass errorClass) {
        return FAILURES.get(errorClass);
    }

    /** The outcome of this wire name (as a usage event carries it), or null for a name Caravan does not know. */
    public static Outcome fromWireName(String wireName) {
        for (Outcome o : new Outcome[] {OK, WAITED, ESCALATED, CACHE_HIT}) {
            if (o.wireName.equals(wireName)) {
                return o;
            }
        }
        ErrorClass failure = ErrorClass.fromWireName(wireName);
        return failure == null ? null : failed(failure);
    }

    /**
     * How a task ended, as its span ({@code caravan.outcome}) and {@code caravan_requests_total} name it: {@code ok},
     * {@code accepted} (waits for a batch), its error class, or {@code unknown} (none of these: a bug).
     */
    public static String ofTask(TaskContext ctx) {
        if (ctx.error() != null) {
            return ctx.error().type().wireName();
        }
        if (ctx.reply() != null || ctx.stream() != null) {
            return OK.wireName;
        }
        return TaskContext.MODE_BATCH.equals(ctx.mode()) ? ACCEPTED.wireName : UNKNOWN_TASK;
    }

    public String wireName() {
        return wireName;
    }

    /** The error class of a failed attempt; null for ok, waits, escalations and cache hits. */
    public ErrorClass failure() {
        return failure;
    }

    public boolean isFailure() {
        return failure != null;
    }

    /** Whether this is a failure of the given class. */
    public boolean is(ErrorClass errorClass) {
        return failure == errorClass;
    }

    @Override
    public String toString() {
        return wireName;
    }
}
