package io.caravan.task;

import io.caravan.provider.Headroom;
import io.caravan.provider.TokenUsage;
import java.time.Instant;

/**
 * One call to a provider with one key, or one deployment passed over without a call ({@code skipped}, no
 * {@code status}), or a step that is neither (a wait, an escalation, a cache hit: see {@link Outcome}). {@code keyId} is the fingerprint of the key the
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
        Outcome outcome,
        Integer status,
        long latencyMs,
        TokenUsage usage,
        double costUsd,
        boolean fallback,
        String keyId,
        Long retryAfterMs,
        Headroom headroom,
        boolean skipped) {

    public boolean ok() {
        return outcome == Outcome.OK;
    }

    /** The same attempt with another outcome (an answer sent one tier up is recorded as escalated). */
    public Attempt withOutcome(Outcome newOutcome) {
        return new Attempt(number, ts, group, deployment, provider, providerModel, newOutcome, status, latencyMs, usage,
                costUsd, fallback, keyId, retryAfterMs, headroom, skipped);
    }
}
