package io.caravan.task;

import io.caravan.provider.Headroom;
import io.caravan.provider.TokenUsage;
import java.time.Instant;

/**
 * One call to a provider with one key, or one deployment skipped without a call ({@code status} null).
 * {@code outcome} is {@code ok} or an error class's wire name. {@code keyId} is the fingerprint of the key the
 * call used (null when no call began or the provider has no keys); {@code retryAfterMs} and {@code headroom} are
 * what the provider's answer said of its limits, when it did.
 */
public record Attempt(
        int number,
        Instant ts,
        String group,
        String deployment,
        String provider,
        String providerModel,
        String outcome,
        Integer status,
        long latencyMs,
        TokenUsage usage,
        double costUsd,
        boolean fallback,
        String keyId,
        Long retryAfterMs,
        Headroom headroom) {

    public boolean ok() {
        return "ok".equals(outcome);
    }
}
