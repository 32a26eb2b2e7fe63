package io.caravan.dispatch;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.dispatch.strategy.DeploymentStats;
import io.caravan.provider.TokenUsage;
import io.caravan.resilience.Breakers;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ErrorClassifier;
import io.caravan.resilience.ErrorPolicy;
import io.caravan.resilience.KeyPool;
import io.caravan.resilience.ProviderError;
import io.caravan.resilience.RateLimits;
import io.caravan.task.Attempt;
import io.caravan.task.Outcome;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskContext.Candidate;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place a provider call begins and ends. {@link #begin} counts the call in flight; its end, whether an
 * answer ({@link #succeeded}), a failure (the deployment route's {@code onExceptionOccurred}, {@link #process}) or
 * the end of a streamed answer ({@link #streamEnded}), records the attempt and settles everything the call took:
 * the in-flight count and latency average of the group strategies, the key's tpm estimate, the key's cooldown
 * and, for a stream (whose breaker call already ended when its first delta arrived), the breaker.
 */
public final class AttemptRecorder implements Processor {

    private static final Logger LOG = LoggerFactory.getLogger(AttemptRecorder.class);

    private final KeyPool keys;
    private final Breakers breakers;
    private final Duration keyCooldown;
    private final DeploymentStats stats;
    private final RateLimits limits;

    public AttemptRecorder(KeyPool keys, Breakers breakers, Duration keyCooldown, DeploymentStats stats,
            RateLimits limits) {
        this.keys = keys;
        this.breakers = breakers;
        this.keyCooldown = keyCooldown;
        this.stats = stats;
        this.limits = limits;
    }

    /** A call begins with the key at {@code keyIndex} (-1 without keys), which took {@code tokens} from its tpm. */
    public void begin(TaskContext ctx, DeploymentSpec deployment, int keyIndex, String keyId, long tokens) {
        ctx.beginCall(keyIndex, keyId, tokens);
        stats.begin(deployment.id());
    }

    /** The provider answered the call: an {@code ok} attempt. */
    public Attempt succeeded(TaskContext ctx, Candidate candidate, int status, TokenUsage usage) {
        DeploymentSpec deployment = candidate.deployment();
        int key = ctx.callKey();
        long estimate = ctx.callTokens();
        long latency = ctx.endCall();
        stats.end(deployment.id(), latency);
        limits.correct(ctx.catalog().providerOf(deployment), key, estimate, usage.input() + usage.output());
        return ctx.record(candidate, Outcome.OK, status, latency, usage);
    }

    /** The deployment route's error handler: the call of the current candidate failed (or never began). */
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
        ProviderError providerError = failure instanceof ProviderError pe ? pe : null;
        Integer status = providerError == null ? null : providerError.status();
        Duration retryAfter = providerError == null ? null : providerError.retryAfter();
        DeploymentSpec deployment = candidate.deployment();
        int key = ctx.callKey();
        boolean called = ctx.callStarted();
        long latency = settle(ctx, deployment, errorClass, status, retryAfter, TokenUsage.NONE, false);
        if (errorClass == ErrorClass.MODEL_NOT_FOUND) {
            breakers.coolDown(deployment.id());
        }
        String message = ErrorClassifier.describe(failure);
        ctx.lastFailureMessage(message);
        boolean skipped = !called && providerError != null && providerError.skippedWithoutCall();
        ctx.record(candidate, Outcome.failed(errorClass), status, latency, TokenUsage.NONE, skipped);
        LOG.debug("attempt failed task={} deployment={} key={} error={} status={} detail={}",
                ctx.task().id(), deployment.id(), key, errorClass, status, message);
    }

    /**
     * A streamed answer ended: {@code ok} ({@code failure} null) with the stream's usage, or failed mid-stream.
     * The stream's call began in {@link #begin} and counted in flight until now. A failure that says something of
     * the deployment ({@code cause} not null) counts against its breaker here: the breaker's own call ended when
     * the first delta arrived.
     */
    public Attempt streamEnded(TaskContext ctx, Candidate by, ErrorClass failure, Integer status, TokenUsage usage,
            Throwable cause) {
        TokenUsage used = usage == null ? TokenUsage.NONE : usage;
        DeploymentSpec deployment = by.deployment();
        if (failure == null) {
            return succeeded(ctx, by, status == null ? 200 : status, used);
        }
        long latency = settle(ctx, deployment, failure, status, null, used, true);
        if (cause != null && failure.policy().countsAgainstBreaker()) {
            CircuitBreaker breaker = breakers.find(deployment.id());
            if (breaker != null) {
                breaker.onError(TimeUnit.MILLISECONDS.toNanos(latency), TimeUnit.NANOSECONDS, cause);
            }
        }
        return ctx.record(by, Outcome.failed(failure), status, latency, used);
    }

    /**
     * Ends the call in progress after a failure: its latency, and when a call was made, the key's cooldown, its
     * tpm estimate and the in-flight count. Answers the call's latency (0 when none began).
     */
    private long settle(TaskContext ctx, DeploymentSpec deployment, ErrorClass errorClass, Integer status,
            Duration retryAfter, TokenUsage usage, boolean midStream) {
        ProviderSpec provider = ctx.catalog().providerOf(deployment);
        boolean called = ctx.callStarted();
        long tokens = ctx.callTokens();
        int key = ctx.callKey();
        long latency = ctx.endCall();
        if (!called) {
            return latency;
        }
        if (status != null && retryAfter != null) {
            ctx.callLimits(retryAfter.toMillis(), null); // the provider's wait, for the fleet to see
        }
        coolKey(provider.name(), key, errorClass, retryAfter);
        long used = usage.input() + usage.output();
        if (used > 0) {
            limits.correct(provider, key, tokens, used); // a broken stream reported what it had used
        } else if (!midStream && errorClass != ErrorClass.TIMEOUT && errorClass != ErrorClass.CANCELLED) {
            // a call the provider refused or never answered counted no tokens there; a timed-out, abandoned or
            // half-streamed call may still have run upstream, so it keeps its estimate
            limits.correct(provider, key, tokens, 0);
        }
        // a timeout says the deployment is slow; other failures say nothing of its latency
        stats.end(deployment.id(), errorClass == ErrorClass.TIMEOUT ? latency : -1);
        return latency;
    }

    private void coolKey(String provider, int key, ErrorClass errorClass, Duration retryAfter) {
        if (key < 0) {
            return;
        }
        switch (errorClass.policy().keyCooldown()) {
            case CONFIGURED -> keys.coolDown(provider, key, keyCooldown);
            case SERVER_WAIT -> keys.coolDown(provider, key, retryAfter != null ? retryAfter : ErrorPolicy.RATE_LIMIT_COOLDOWN);
            case NONE -> { }
        }
    }
}
