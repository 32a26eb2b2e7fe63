package io.caravan.resilience;

import io.caravan.util.Redaction;
import java.time.Duration;

/**
 * A failed provider call, already classified. Thrown by adapters and by the attempt steps so that the error
 * handler's redelivery, the circuit breaker and the fallback planner all decide on {@link #errorClass()}.
 * Its message is where a provider's text enters Caravan (error bodies, stream error events), so it is made safe
 * here, once, before it can reach a result, an HTTP body, an SSE event, a dead letter's headers or a log: every
 * key the live catalogs hold and anything shaped like a key is redacted ({@link Redaction}), then the text is put
 * on one line and capped.
 */
public class ProviderError extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Longest message kept. */
    public static final int MAX_MESSAGE = 400;
    /** How much of a longer text is looked at (redacted, then capped): the cap falls well inside it. */
    public static final int MAX_TEXT = 8 * MAX_MESSAGE;

    private final ErrorClass errorClass;
    private final Integer status;
    private final Duration retryAfter;
    private final boolean skipped;

    public ProviderError(ErrorClass errorClass, Integer status, String message, Duration retryAfter) {
        this(errorClass, status, message, retryAfter, false);
    }

    private ProviderError(ErrorClass errorClass, Integer status, String message, Duration retryAfter,
            boolean skipped) {
        super(safe(message), null, false, false);
        this.errorClass = errorClass;
        this.status = status;
        this.retryAfter = retryAfter;
        this.skipped = skipped;
    }

    /**
     * A deployment passed over before any call was made (every key cooling or at its rpm/tpm limit, a prompt that
     * cannot fit): it says nothing of the deployment, so the breaker ignores it and it is not retried there.
     */
    public static ProviderError skipped(ErrorClass errorClass, String message, Duration retryAfter) {
        return new ProviderError(errorClass, null, message, retryAfter, true);
    }

    public ProviderError(ErrorClass errorClass, Integer status, String message) {
        this(errorClass, status, message, null);
    }

    /** Text made safe to pass on: redacted, on one line, capped at {@link #MAX_MESSAGE}. */
    static String safe(String text) {
        if (text == null) {
            return "";
        }
        String s = Redaction.redact(window(text));
        s = s.replaceAll("[\\p{Cntrl}\\s]+", " ").trim();
        return s.length() > MAX_MESSAGE ? s.substring(0, MAX_MESSAGE) + "..." : s;
    }

    /** The first {@link #MAX_TEXT} characters, without a token the cut would leave half (half a key is no match). */
    private static String window(String text) {
        if (text.length() <= MAX_TEXT) {
            return text;
        }
        int end = MAX_TEXT;
        while (end > 0 && !endsToken(text.charAt(end))) {
            end--;
        }
        return text.substring(0, end);
    }

    private static boolean endsToken(char c) {
        return Character.isWhitespace(c) || "\"'`<>,;(){}[]".indexOf(c) >= 0;
    }

    public ErrorClass errorClass() {
        return errorClass;
    }

    /** The HTTP status the provider answered, or null when no answer came. */
    public Integer status() {
        return status;
    }

    /** No call was made: the deployment was passed over ({@link #skipped}). */
    public boolean skippedWithoutCall() {
        return skipped;
    }

    /** A wait the server asked for (Retry-After, retry-after-ms, Gemini's RetryInfo), or null. */
    public Duration retryAfter() {
        return retryAfter;
    }
}
