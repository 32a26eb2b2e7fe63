package io.caravan.resilience;

import java.util.Locale;

/**
 * The error classes of the contract (section 6): the {@code outcome} of an attempt and the {@code type} of an
 * error. Decisions about retrying, rotating keys and falling back are taken on these, never on message text.
 */
public enum ErrorClass {
    RATE_LIMITED(true, true),
    QUOTA_EXHAUSTED(false, true),
    AUTH(false, true),
    TIMEOUT(true, true),
    SERVER_ERROR(true, true),
    CONNECTION(true, true),
    /** The answer passed its size bound: not retried (the same call would most likely bring the same answer). */
    RESPONSE_TOO_LARGE(false, true),
    MODEL_NOT_FOUND(false, true),
    CIRCUIT_OPEN(false, true),
    CONTEXT_WINDOW(false, false),
    /**
     * The provider's content filter refused the prompt or the answer (Azure's {@code content_filter}): only the
     * catalog's {@code content_filter_fallbacks} follow, like context-window errors.
     */
    CONTENT_FILTERED(false, false),
    BAD_REQUEST(false, false),
    CANCELLED(false, false),
    INVALID_TASK(false, false),
    BUDGET_EXCEEDED(false, false),
    EXHAUSTED(false, false),
    /** The task's result would not fit on the results topic even compressed: a small error result replaces it. */
    RESULT_TOO_LARGE(false, false),
    /** The task names a tenant other than the one its API key (or record header) is of. */
    TENANT_MISMATCH(false, false),
    /** The tenant may not use the tier or group the task asks for (its {@code allow:}). */
    NOT_ALLOWED(false, false),
    /** A Kafka task whose tenant header names no tenant of the catalog. */
    UNKNOWN_TENANT(false, false);

    private final boolean retriable;
    private final boolean fallsBack;

    ErrorClass(boolean retriable, boolean fallsBack) {
        this.retriable = retriable;
        this.fallsBack = fallsBack;
    }

    /** Worth another call on the same deployment. */
    public boolean retriable() {
        return retriable;
    }

    /** Moves on to the next deployment or fallback group (context-window errors follow their own chain). */
    public boolean fallsBack() {
        return fallsBack;
    }

    /** The problem is the key, not the deployment: cool the key and try the next one. */
    public boolean keyFault() {
        return this == QUOTA_EXHAUSTED || this == AUTH;
    }

    /** The wire name, e.g. {@code rate_limited}. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return wireName();
    }
}
