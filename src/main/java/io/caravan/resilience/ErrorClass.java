package io.caravan.resilience;

import java.util.Locale;

/**
 * The error classes of the contract (section 6): the {@code outcome} of an attempt and the {@code type} of an
 * error. Decisions about retrying, rotating keys and falling back are taken on these, never on message text.
 */
public enum ErrorClass {
    RATE_LIMITED,
    QUOTA_EXHAUSTED,
    AUTH,
    TIMEOUT,
    SERVER_ERROR,
    CONNECTION,
    /** The answer passed its size bound: not retried (the same call would most likely bring the same answer). */
    RESPONSE_TOO_LARGE,
    MODEL_NOT_FOUND,
    CIRCUIT_OPEN,
    CONTEXT_WINDOW,
    /**
     * The provider's content filter refused the prompt or the answer (Azure's {@code content_filter}): only the
     * catalog's {@code content_filter_fallbacks} follow, like context-window errors.
     */
    CONTENT_FILTERED,
    BAD_REQUEST,
    CANCELLED,
    INVALID_TASK,
    BUDGET_EXCEEDED,
    EXHAUSTED,
    /** The task's result would not fit on the results topic even compressed: a small error result replaces it. */
    RESULT_TOO_LARGE,
    /** The task names a tenant other than the one its API key (or record header) is of. */
    TENANT_MISMATCH,
    /** The tenant may not use the tier or group the task asks for (its {@code allow:}). */
    NOT_ALLOWED,
    /** A Kafka task whose tenant header names no tenant of the catalog. */
    UNKNOWN_TENANT;

    /** What Caravan does about this class: the one decision table, {@link ErrorPolicy}. */
    public ErrorPolicy policy() {
        return ErrorPolicy.of(this);
    }

    /** Worth another call on the same deployment. */
    public boolean retriable() {
        return policy().retrySameDeployment();
    }

    /** Moves on to the next deployment or fallback group (context-window errors follow their own chain). */
    public boolean fallsBack() {
        return policy().fallsBack();
    }

    /** The problem is the key, not the deployment: cool the key and try the next one. */
    public boolean keyFault() {
        return policy().nextKey();
    }

    /** The class of a wire name ({@code rate_limited}), or null for anything else ({@code ok}, {@code waited}). */
    public static ErrorClass fromWireName(String wireName) {
        for (ErrorClass c : values()) {
            if (c.wireName().equals(wireName)) {
                return c;
            }
        }
        return null;
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
