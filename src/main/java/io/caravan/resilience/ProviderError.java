package io.caravan.resilience;

import java.time.Duration;

/**
 * A failed provider call, already classified. Thrown by adapters and by the attempt steps so that the error
 * handler's redelivery, the circuit breaker and the fallback planner all decide on {@link #errorClass()}.
 * The message never holds an API key: adapters build it from the provider's error text only.
 */
public class ProviderError extends RuntimeException {

    private final ErrorClass errorClass;
    private final Integer status;
    private final Duration retryAfter;

    public ProviderError(ErrorClass errorClass, Integer status, String message, Duration retryAfter) {
        super(message, null, false, false);
        this.errorClass = errorClass;
        this.status = status;
        this.retryAfter = retryAfter;
    }

    public ProviderError(ErrorClass errorClass, Integer status, String message) {
        this(errorClass, status, message, null);
    }

    public ErrorClass errorClass() {
        return errorClass;
    }

    /** The HTTP status the provider answered, or null when no answer came. */
    public Integer status() {
        return status;
    }

    /** A wait the server asked for (Retry-After, retry-after-ms, Gemini's RetryInfo), or null. */
    public Duration retryAfter() {
        return retryAfter;
    }
}
