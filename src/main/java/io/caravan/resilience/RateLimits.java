package io.caravan.resilience;

import io.caravan.catalog.ProviderSpec;
import io.github.bucket4j.Bucket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Client-side request and token limits per API key, from the provider's {@code rpm} and {@code tpm}: two
 * Bucket4j buckets per key, refilled in full once a window (a minute), so a key never sends more than
 * {@code rpm} requests or {@code tpm} tokens in one window. State is per instance: several instances sharing
 * keys each divide the limits (see the README).
 *
 * <p>A call takes one request and its estimated tokens ({@link #tryAcquire}); the estimate is corrected from
 * the response's usage ({@link #correct}).
 */
public final class RateLimits {

    private final Duration window;
    private final Map<String, ProviderBuckets> providers = new ConcurrentHashMap<>();

    public RateLimits() {
        this(Duration.ofMinutes(1));
    }

    /** {@code window} is a minute in production; tests may shorten it. */
    public RateLimits(Duration window) {
        this.window = window;
    }

    public static boolean limited(ProviderSpec provider) {
        return provider.rpm() != null || provider.tpm() != null;
    }

    /** Takes one request and {@code tokens} from the key's buckets, or nothing at all when either is short. */
    public boolean tryAcquire(ProviderSpec provider, int key, long tokens) {
        if (!limited(provider) || key < 0) {
            return true;
        }
        KeyBuckets buckets = buckets(provider, key);
        if (buckets == null) {
            return true;
        }
        if (buckets.requests != null && !buckets.requests.tryConsume(1)) {
            return false;
        }
        if (buckets.tokens != null && !buckets.tokens.tryConsume(buckets.cap(tokens))) {
            if (buckets.requests != null) {
                buckets.requests.addTokens(1);
            }
            return false;
        }
        return true;
    }

    /** Replaces the estimate of a call by the tokens the provider counted. */
    public void correct(ProviderSpec provider, int key, long estimated, long actual) {
        if (provider.tpm() == null || key < 0) {
            return;
        }
        KeyBuckets buckets = buckets(provider, key);
        if (buckets == null || buckets.tokens == null) {
            return;
        }
        long diff = actual - buckets.cap(estimated);
        if (diff > 0) {
            buckets.tokens.consumeIgnoringRateLimits(diff);
        } else if (diff < 0) {
            buckets.tokens.addTokens(-diff);
        }
    }

    /**
     * How long until some key of this provider can take a call of {@code tokens}: zero when one can now, or
     * when the provider has no limits.
     */
    public Duration untilCapacity(ProviderSpec provider, int keyCount, long tokens) {
        if (!limited(provider) || keyCount <= 0) {
            return Duration.ZERO;
        }
        long best = Long.MAX_VALUE;
        for (int key = 0; key < keyCount; key++) {
            KeyBuckets buckets = buckets(provider, key);
            if (buckets == null) {
                return Duration.ZERO;
            }
            long wait = 0;
            if (buckets.requests != null) {
                wait = Math.max(wait, buckets.requests.estimateAbilityToConsume(1).getNanosToWaitForRefill());
            }
            if (buckets.tokens != null) {
                wait = Math.max(wait, buckets.tokens.estimateAbilityToConsume(buckets.cap(tokens))
                        .getNanosToWaitForRefill());
            }
            best = Math.min(best, wait);
        }
        return Duration.ofNanos(best);
    }

    private KeyBuckets buckets(ProviderSpec provider, int key) {
        int keys = Math.max(1, provider.apiKeys().size());
        if (key >= keys) {
            return null;
        }
        ProviderBuckets pb = providers.compute(provider.name(), (name, old) ->
                old != null && old.matches(provider, keys) ? old : new ProviderBuckets(provider, keys, window));
        return pb.keys[key];
    }

    /** The buckets of one provider's keys; replaced when its limits or its number of keys change. */
    private static final class ProviderBuckets {
        final Integer rpm;
        final Integer tpm;
        final KeyBuckets[] keys;

        ProviderBuckets(ProviderSpec provider, int count, Duration window) {
            this.rpm = provider.rpm();
            this.tpm = provider.tpm();
            this.keys = new KeyBuckets[count];
            for (int i = 0; i < count; i++) {
                keys[i] = new KeyBuckets(bucket(rpm, window), bucket(tpm, window), tpm == null ? 0 : tpm);
            }
        }

        boolean matches(ProviderSpec provider, int count) {
            return java.util.Objects.equals(rpm, provider.rpm()) && java.util.Objects.equals(tpm, provider.tpm())
                    && keys.length == count;
        }

        private static Bucket bucket(Integer perWindow, Duration window) {
            if (perWindow == null) {
                return null;
            }
            return Bucket.builder()
                    .addLimit(limit -> limit.capacity(perWindow).refillIntervally(perWindow, window))
                    .build();
        }
    }

    private record KeyBuckets(Bucket requests, Bucket tokens, long tokenCapacity) {
        /** A call larger than the whole window's tokens can still go once the bucket is full. */
        long cap(long tokens) {
            return Math.max(1, Math.min(tokens, tokenCapacity));
        }
    }
}
