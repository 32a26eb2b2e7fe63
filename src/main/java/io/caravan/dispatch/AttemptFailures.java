package io.caravan.dispatch;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.dispatch.strategy.DeploymentStats;
import io.caravan.provider.TokenUsage;
import io.caravan.resilience.Breakers;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ErrorClassifier;
import io.caravan.resilience.KeyPool;
import io.caravan.resilience.ProviderError;
import io.caravan.resilience.RateLimits;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskContext.Candidate;
import java.time.Duration;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs each time a deployment route's call fails (the error handler's {@code onExceptionOccurred}): records the
 * failed attempt with its class, and cools the key when the key was the problem.
 */
public final class AttemptFailures implements Processor {

    private static final Logger LOG = LoggerFactory.getLogger(AttemptFailures.class);
    /** Short cooldown of a rate-limited key when the server gave no wait. */
    static final Duration RATE_LIMIT_COOLDOWN = Duration.ofSeconds(1);

    private final KeyPool keys;
    private final Breakers breakers;
    private final Duration keyCooldown;
    private final DeploymentStats stats;
    private final RateLimits limits;

    public AttemptFailures(KeyPool keys, Breakers breakers, Duration keyCooldown, DeploymentStats stats,
            RateLimits limits) {
        this.keys = keys;
        this.breakers = breakers;
        this.keyCooldown = keyCooldown;
        this.stats = stats;
        this.limits = limits;
    }

    @Override
    public void process(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        Throwable failure = exchange.getException();
        Candidate candidate = ctx.current();
        if (failure == null || candidate == null) {
            return;
        }
        // the failed call's request headers (the key among them) must not travel on with the exchange
        exchange.getMessage().getHeaders().clear();
        // an aborted call fails like a broken connection; it is the caller who left
        ErrorClass errorClass = ctx.callerGone() ? ErrorClass.CANCELLED : ErrorClassifier.classify(failure);
        Integer status = failure instanceof ProviderError pe ? pe.status() : null;
        DeploymentSpec deployment = candidate.deployment();
        ProviderSpec provider = ctx.catalog().providerOf(deployment);
        boolean called = ctx.callStarted();
        long tokens = ctx.callTokens();
        long latency = ctx.endCall();
        int key = ctx.callKey();
        if (called) {
            if (status != null && failure instanceof ProviderError pe && pe.retryAfter() != null) {
                ctx.callLimits(pe.retryAfter().toMillis(), null); // the provider's wait, for the fleet to see
            }
            coolKey(provider.name(), key, errorClass, failure);
            // a call the provider refused or never answered counted no tokens there; a timed-out or abandoned
            // call may still have run upstream, so it keeps them
            if (errorClass != ErrorClass.TIMEOUT && errorClass != ErrorClass.CANCELLED) {
                limits.correct(provider, key, tokens, 0);
            }
            // a timeout says the deployment is slow; other failures say nothing of its latency
            stats.end(deployment.id(), errorClass == ErrorClass.TIMEOUT ? latency : -1);
        }
        if (errorClass == ErrorClass.MODEL_NOT_FOUND) {
            breakers.coolDown(deployment.id());
        }
        String message = ErrorClassifier.describe(failure);
        ctx.lastFailureMessage(message);
        ctx.record(candidate, errorClass.wireName(), status, latency, TokenUsage.NONE);
        LOG.debug("attempt failed task={} deployment={} key={} error={} status={} detail={}",
                ctx.task().id(), deployment.id(), key, errorClass, status, message);
    }

    private void coolKey(String provider, int key, ErrorClass errorClass, Throwable failure) {
        if (key < 0) {
            return;
        }
        if (errorClass.keyFault()) {
            keys.coolDown(provider, key, keyCooldown);
        } else if (errorClass == ErrorClass.RATE_LIMITED) {
            Duration wait = failure instanceof ProviderError pe && pe.retryAfter() != null
                    ? pe.retryAfter() : RATE_LIMIT_COOLDOWN;
            keys.coolDown(provider, key, wait);
        }
    }
}
