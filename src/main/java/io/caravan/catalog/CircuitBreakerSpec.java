package io.caravan.catalog;

import java.time.Duration;

/** The {@code circuit_breaker:} block, applied to every deployment. */
public record CircuitBreakerSpec(float failureRate, int window, int minimumCalls, Duration openFor, int halfOpenCalls) {

    public static final CircuitBreakerSpec DEFAULT = new CircuitBreakerSpec(50f, 20, 5, Duration.ofSeconds(30), 1);
}
