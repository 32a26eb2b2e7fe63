package io.caravan.resilience;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;

/**
 * What Caravan does about each {@link ErrorClass}, in one table: every caller (the retry policy, the attempt
 * recorder, the circuit breakers, the fallback planner, the OpenAI wire) reads its decision here.
 *
 * @param retrySameDeployment worth another call on the same deployment (backoff or the server's wait)
 * @param nextKey             the key is the problem: cool it and try the provider's next key at once
 * @param fallsBack           moves on to the next deployment or fallback group (context-window errors follow their
 *                            own chain, see {@code FallbackPlanner})
 * @param countsAgainstBreaker a failure of this class says something about the deployment (when a call was made)
 * @param keyCooldown         how the key that got this answer cools down
 * @param worthWaitingFor     "not now" rather than "not this": when a whole round failed only so, the task waits
 *                            for the first deployment or key to come back, inside its deadline
 * @param honoursRetryAfter   a server-given wait (Retry-After, retry-after-ms, RetryInfo) decides the redelivery
 *                            delay of this class instead of the exponential backoff
 * @param httpStatus          the HTTP status of a task failed with this class (Caravan's HTTP API and batch)
 * @param openAiType          the {@code error.type} of OpenAI's error body for this class
 */
public record ErrorPolicy(
        boolean retrySameDeployment,
        boolean nextKey,
        boolean fallsBack,
        boolean countsAgainstBreaker,
        KeyCooldown keyCooldown,
        boolean worthWaitingFor,
        boolean honoursRetryAfter,
        int httpStatus,
        String openAiType) {

    /** How a key cools down after an answer of a class. */
    public enum KeyCooldown {
        /** Not at all: the key is fine. */
        NONE,
        /** For the catalog's key cooldown ({@code key_cooldown}): the key is refused or out of quota. */
        CONFIGURED,
        /** For the server's wait, or {@link #RATE_LIMIT_COOLDOWN} when it gave none: the key hit a rate limit. */
        SERVER_WAIT
    }

    /** Cooldown of a rate-limited key when the server gave no wait. */
    public static final Duration RATE_LIMIT_COOLDOWN = Duration.ofSeconds(1);

    private static final Map<ErrorClass, ErrorPolicy> TABLE = new EnumMap<>(ErrorClass.class);

    static {
        //                                          retry  nextKey fallBk breaker cooldown                  wait   RetryAfter status type
        // a 429 is the key's pacing, which its rest for the server's wait honours; a fleet meets a few at the edges of
        // rpm windows (calls counted in one window reaching the provider in the next): counted, they opened the
        // deployment's breaker for open_for (30 s) where the provider asked for a second
        put(ErrorClass.RATE_LIMITED,      new ErrorPolicy(true,  false, true,  false, KeyCooldown.SERVER_WAIT, true,  true,  429, "rate_limit_error"));
        put(ErrorClass.QUOTA_EXHAUSTED,   new ErrorPolicy(false, true,  true,  false, KeyCooldown.CONFIGURED,  true,  false, 402, "insufficient_quota"));
        put(ErrorClass.AUTH,              new ErrorPolicy(false, true,  true,  false, KeyCooldown.CONFIGURED,  true,  false, 401, "authentication_error"));
        put(ErrorClass.TIMEOUT,           new ErrorPolicy(true,  false, true,  true,  KeyCooldown.NONE,        false, true,  504, "timeout_error"));
        put(ErrorClass.SERVER_ERROR,      new ErrorPolicy(true,  false, true,  true,  KeyCooldown.NONE,        false, true,  503, "server_error"));
        put(ErrorClass.CONNECTION,        new ErrorPolicy(true,  false, true,  true,  KeyCooldown.NONE,        false, true,  503, "server_error"));
        // the same call would most likely bring the same oversized answer
        put(ErrorClass.RESPONSE_TOO_LARGE, new ErrorPolicy(false, false, true, true,  KeyCooldown.NONE,        false, false, 503, "server_error"));
        // the breaker is opened directly (Breakers.coolDown), not counted
        put(ErrorClass.MODEL_NOT_FOUND,   new ErrorPolicy(false, false, true,  false, KeyCooldown.NONE,        false, false, 404, "server_error"));
        put(ErrorClass.CIRCUIT_OPEN,      new ErrorPolicy(false, false, true,  false, KeyCooldown.NONE,        true,  false, 503, "server_error"));
        put(ErrorClass.CONTEXT_WINDOW,    new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 400, "invalid_request_error"));
        // only the catalog's content_filter_fallbacks follow (FallbackPlanner), like context-window errors
        put(ErrorClass.CONTENT_FILTERED,  new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 400, "invalid_request_error"));
        put(ErrorClass.BAD_REQUEST,       new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 400, "invalid_request_error"));
        put(ErrorClass.CANCELLED,         new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 499, "cancelled"));
        put(ErrorClass.INVALID_TASK,      new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 400, "invalid_request_error"));
        put(ErrorClass.BUDGET_EXCEEDED,   new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 402, "insufficient_quota"));
        put(ErrorClass.EXHAUSTED,         new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 503, "server_error"));
        // only Kafka results are ever too large to publish; HTTP answers carry no such limit
        put(ErrorClass.RESULT_TOO_LARGE,  new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 500, "server_error"));
        // tenants: who is calling decides what may be spent (refused before any call)
        put(ErrorClass.TENANT_MISMATCH,   new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 403, "permission_error"));
        put(ErrorClass.NOT_ALLOWED,       new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 403, "permission_error"));
        put(ErrorClass.UNKNOWN_TENANT,    new ErrorPolicy(false, false, false, false, KeyCooldown.NONE,        false, false, 401, "authentication_error"));
    }

    private static void put(ErrorClass errorClass, ErrorPolicy policy) {
        TABLE.put(errorClass, policy);
    }

    /** The decisions for a class; every class has a row. */
    public static ErrorPolicy of(ErrorClass errorClass) {
        return TABLE.get(errorClass);
    }
}
