package io.caravan.resilience;

import io.caravan.catalog.CircuitBreakerSpec;
import io.caravan.catalog.DeploymentSpec;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One Resilience4j circuit breaker per deployment, handed to the Circuit Breaker EIP of the deployment's route
 * by reference. Only failures that say something about the deployment count: errors of the task itself
 * (bad request, context window) and of a single key (auth, quota, a rate limit) do not.
 */
public final class Breakers {

    private final CircuitBreakerRegistry registry = CircuitBreakerRegistry.ofDefaults();
    /** When each open breaker may let a probe through again (nanoTime). */
    private final Map<String, Long> probeAt = new ConcurrentHashMap<>();

    public static String beanName(DeploymentSpec deployment) {
        return "breaker-" + deployment.routeKey();
    }

    public CircuitBreaker forDeployment(DeploymentSpec deployment, CircuitBreakerSpec spec) {
        CircuitBreakerConfig config = CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .failureRateThreshold(spec.failureRate())
                .slidingWindowSize(spec.window())
                .minimumNumberOfCalls(spec.minimumCalls())
                .waitDurationInOpenState(spec.openFor())
                .permittedNumberOfCallsInHalfOpenState(spec.halfOpenCalls())
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                .recordException(Breakers::countsAgainstDeployment)
                // a deployment skipped without a call (every key cooling or at its rpm/tpm limit), or a call
                // the caller abandoned, is neither a failure nor a success of the deployment, and must not use
                // up a half-open probe
                .ignoreException(Breakers::saysNothingOfDeployment)
                .writableStackTraceEnabled(false)
                .build();
        boolean isNew = registry.find(deployment.id()).isEmpty();
        CircuitBreaker breaker = registry.circuitBreaker(deployment.id(), config);
        if (isNew) {
            Duration openFor = spec.openFor();
            breaker.getEventPublisher().onStateTransition(event -> {
                if (event.getStateTransition().getToState() == CircuitBreaker.State.OPEN) {
                    probeAt.put(deployment.id(), System.nanoTime() + openFor.toNanos());
                }
            });
        }
        return breaker;
    }

    /** Takes a deployment out of rotation for the breaker's open duration (e.g. its model is not found). */
    public void coolDown(String deploymentId) {
        CircuitBreaker breaker = find(deploymentId);
        if (breaker != null && breaker.getState() != CircuitBreaker.State.OPEN) {
            breaker.transitionToOpenState();
        }
    }

    /** How long until the deployment's breaker lets a call through again: zero unless it is open. */
    public Duration untilCallable(String deploymentId) {
        CircuitBreaker breaker = find(deploymentId);
        if (breaker == null || breaker.getState() != CircuitBreaker.State.OPEN) {
            return Duration.ZERO;
        }
        Long at = probeAt.get(deploymentId);
        return at == null ? Duration.ZERO : Duration.ofNanos(Math.max(0, at - System.nanoTime()));
    }

    public CircuitBreaker find(String deploymentId) {
        return registry.find(deploymentId).orElse(null);
    }

    static boolean saysNothingOfDeployment(Throwable failure) {
        // a rate limit neither fails the deployment nor proves it well (nor uses up a half-open probe)
        return failure instanceof ProviderError pe && (pe.skippedWithoutCall()
                || pe.status() == null && pe.errorClass() == ErrorClass.CANCELLED
                || pe.errorClass() == ErrorClass.RATE_LIMITED);
    }

    static boolean countsAgainstDeployment(Throwable failure) {
        if (failure instanceof ProviderError pe && pe.skippedWithoutCall()) {
            return false;
        }
        return ErrorClassifier.classify(failure).policy().countsAgainstBreaker();
    }
}
