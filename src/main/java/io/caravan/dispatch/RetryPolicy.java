package io.caravan.dispatch;

import io.caravan.catalog.ProviderSpec;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ErrorClassifier;
import io.caravan.resilience.ErrorPolicy;
import io.caravan.resilience.KeyPool;
import io.caravan.resilience.ProviderError;
import io.caravan.task.TaskContext;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.camel.Exchange;

/**
 * The {@code retryWhile} of the deployment routes' error handler: decides whether the same deployment gets
 * another call, and how long the redelivery waits ({@code CamelRedeliveryDelay}). A server-given wait always
 * wins over the exponential backoff; a wait that does not fit in the task's deadline moves on instead.
 */
public final class RetryPolicy {

    static final Duration MAX_BACKOFF = Duration.ofSeconds(10);

    private final KeyPool keys;

    public RetryPolicy(KeyPool keys) {
        this.keys = keys;
    }

    public boolean shouldRetry(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        Throwable failure = exchange.getException();
        if (failure == null) {
            // Camel evaluates retryWhile with the exception moved to the CamelExceptionCaught property
            failure = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        }
        if (ctx == null || failure == null || ctx.current() == null) {
            return false;
        }
        ErrorClass errorClass = ErrorClassifier.classify(failure);
        ProviderSpec provider = ctx.catalog().providerOf(ctx.current().deployment());
        int key = ctx.callKey();
        boolean otherKey = key >= 0 && keys.anotherAvailable(provider.name(), key);
        if (errorClass.keyFault()) {
            // the key is cooling down; the next key is a fresh start, not a retry
            return otherKey && delay(exchange, ctx, Duration.ZERO);
        }
        if (!errorClass.retriable() || ctx.retriesUsed() >= provider.retries()) {
            return false;
        }
        if (failure instanceof ProviderError pe && pe.skippedWithoutCall()) {
            return false; // every key is cooling down: another deployment may not be
        }
        Duration wait;
        if (errorClass.policy().keyCooldown() == ErrorPolicy.KeyCooldown.SERVER_WAIT && otherKey) {
            wait = Duration.ZERO; // the limit belongs to the key: the next key can go now
        } else if (errorClass.policy().honoursRetryAfter() && failure instanceof ProviderError pe
                && pe.retryAfter() != null) {
            wait = pe.retryAfter();
        } else {
            wait = backoff(provider.backoff(), ctx.retriesUsed());
        }
        ctx.countRetry();
        return delay(exchange, ctx, wait);
    }

    private static boolean delay(Exchange exchange, TaskContext ctx, Duration wait) {
        if (wait.toMillis() >= ctx.remainingMs()) {
            return false;
        }
        exchange.getMessage().setHeader(Exchange.REDELIVERY_DELAY, wait.toMillis());
        return true;
    }

    /** first x 2^retry, capped at 10 s, with up to 20% jitter either way. */
    static Duration backoff(Duration first, int retry) {
        long base = Math.min(MAX_BACKOFF.toMillis(), first.toMillis() << Math.min(retry, 20));
        double jitter = 0.8 + ThreadLocalRandom.current().nextDouble() * 0.4;
        return Duration.ofMillis(Math.min(MAX_BACKOFF.toMillis(), Math.round(base * jitter)));
    }
}
