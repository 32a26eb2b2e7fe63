package io.caravan.task;

import io.caravan.provider.TokenUsage;
import java.time.Instant;

/**
 * One call to a provider with one key, or one deployment skipped without a call ({@code status} null).
 * {@code outcome} is {@code ok} or an error class's wire name.
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
        boolean fallback) {

    public boolean ok() {
        return "ok".equals(outcome);
    }
}
