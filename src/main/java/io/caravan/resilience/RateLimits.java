package io.caravan.resilience;

import io.caravan.catalog.ProviderSpec;
import io.github.bucket4j.Bucket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Client-side request and token limits per API key, from the provider's {@code rpm} and {@code tpm}: two
 * Bucket4j buckets per key, refilled in full once a window (a minute), so a key never sends more than
 * {@code rpm} requests or {@code tpm} tokens in one window. Windows are aligned on multiples of the window since
 * the epoch, so every instance of a fleet counts the same window: each also takes its peers' calls out of its own
 * buckets ({@link #peerCall}, fed by {@link FleetState}), so the fleet as a whole stays within the limits. When the
 * fleet's calls cannot be seen, each call weighs the fleet's size ({@link #weighing}): the instance keeps to its
 * local share.
 *
 * <p>A call takes one request and its estimated tokens ({@link #tryAcquire}); the estimate is corrected from
 * the response's usage ({@link #correct}).
 */
public final class RateLimits {

    private final Duration window;
    private final Map<String, ProviderBuckets> providers = new ConcurrentHashMap<>();
    private volatile java.util.function.IntSupplier weight = () -> 1;

    public RateLimits() {
        this(Duration.ofMinutes(1));
    }

    /** {@code window} is a minute in production; tests may shorten it. */
    public RateLimits(Duration window) {
        this.window = window;
    }

    /**
     * How many requests (and times its tokens) each call of this instance takes from the buckets: 1 while the
     * fleet's calls are seen, the number of live instances while they are not (the local share).
     */
    public RateLimits weighing(java.util.function.IntSupplier weight) {
        this.weight = weight;
        return this;
    }

    public Duration window() {
        return window;
    }

    /** The start of the current window (epoch ms): the same on every instance. */
    public long windowStart(long nowMillis) {
        long w = Math.max(1, window.toMillis());
        return nowMillis - Math.floorMod(nowMillis, w);
    }

    /**
     * A peer instance's call on this key at {@code atMillis}: takes its request and tokens out of this instance's
     * buckets, when it fell in the current window (an older one was already refilled).
     */
    public void peerCall(ProviderSpec provider, int key, long atMillis, long tokens) {
        if (!limited(provider) || key < 0 || atMillis < windowStart(System.currentTimeMillis())) {
            return;
        }
        KeyBuckets buckets = buckets(provider, key);
        if (buckets == null) {
            return;
        }
        if (buckets.requests != null) {
            buckets.requests.consumeIgnoringRateLimits(1);
        }
        if (buckets.tokens != null && tokens > 0) {
            buckets.tokens.consumeIgnoringRateLimits(buckets.cap(tokens));
        }
    }

    /** Requests of this key's rpm used in the current window (by the whole fleet, as far as seen), or null. */
    public Long requestsUsed(ProviderSpec provider, int key) {
        KeyBuckets buckets = provider.rpm() == null || key < 0 ? null : buckets(provider, key);
        return buckets == null || buckets.requests == null ? null
                : provider.rpm() - buckets.requests.getAvailableTokens();
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
        int w = Math.max(1, weight.getAsInt());
        // a call never weighs more than a whole window, or it could never go
        long requests = Math.min(w, provider.rpm() == null ? w : provider.rpm());
        if (buckets.requests != null && !buckets.requests.tryConsume(requests)) {
            return false;
        }
        if (buckets.tokens != null && !buckets.tokens.tryConsume(buckets.cap(tokens * w))) {
            if (buckets.requests != null) {
                buckets.requests.addTokens(requests);
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
            // refilled on multiples of the window since the epoch: every instance refills at the same moment
            long w = Math.max(1, window.toMillis());
            long now = System.currentTimeMillis();
            java.time.Instant firstRefill = java.time.Instant.ofEpochMilli(now - Math.floorMod(now, w) + w);
            return Bucket.builder()
                    .addLimit(limit -> limit.capacity(perWindow).refillIntervallyAligned(perWindow, window, firstRefill))
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
