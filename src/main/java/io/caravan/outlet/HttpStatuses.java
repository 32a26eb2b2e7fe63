package io.caravan.outlet;

import io.caravan.resilience.ErrorClass;

/** The HTTP status of each error type on Caravan's HTTP API (contract section 7). */
public final class HttpStatuses {

    private HttpStatuses() {}

    public static int of(ErrorClass type) {
        return switch (type) {
            case INVALID_TASK, BAD_REQUEST, CONTEXT_WINDOW, CONTENT_FILTERED -> 400;
            case AUTH, UNKNOWN_TENANT -> 401;
            case TENANT_MISMATCH, NOT_ALLOWED -> 403;
            case BUDGET_EXCEEDED, QUOTA_EXHAUSTED -> 402;
            case MODEL_NOT_FOUND -> 404;
            case RATE_LIMITED -> 429;
            case TIMEOUT -> 504;
            case CANCELLED -> 499;
            case EXHAUSTED, SERVER_ERROR, CONNECTION, CIRCUIT_OPEN, RESPONSE_TOO_LARGE -> 503;
            // only Kafka results are ever too large to publish; HTTP answers carry no such limit
            case RESULT_TOO_LARGE -> 500;
        };
    }
}
