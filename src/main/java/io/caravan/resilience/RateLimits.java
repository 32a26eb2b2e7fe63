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
 * buckets ({@link #peerCall}, fed by {@link FleetState}) and keeps to its share of each limit, borrowing only its
 * part of what the others leave ({@link #fits}), so the fleet as a whole stays within the limits. The provider's
 * own headroom, when known, caps a key too ({@link Fleet#takeHeadroom}).
 *
 * <p>A call takes one request and its estimated tokens ({@link #tryAcquire}); the estimate is corrected from
 * the response's usage ({@link #correct}).
 */
public final class RateLimits {

    private final Duration window;
    private final Map<String, ProviderBuckets> providers = new ConcurrentHashMap<>();
    private volatile Fleet fleet = Fleet.ALONE;

    public RateLimits() {
        this(Duration.ofMinutes(1));
    }

    /** {@code window} is a minute in production; tests may shorten it. */
    public RateLimits(Duration window) {
        this.window = window;
    }

    /** What the limits need to know of the fleet this instance belongs to. */
    public interface Fleet {
        /** Live instances sharing the keys, this one included (at least 1). */
        int members();

        /** Whether the peers' calls are seen in time; when not, the instance keeps strictly to its share. */
        boolean sharing();

        /** Takes one call from the provider's last reported headroom on this key; false while it is used up. */
        default boolean takeHeadroom(ProviderSpec provider, int key) {
            return true;
        }

        /** Gives back what {@link #takeHeadroom} took, when the call did not go after all. */
        default void returnHeadroom(ProviderSpec provider, int key) {}

        /** How long until the key's used-up headroom resets (nanoseconds; 0 when it has room or none is known). */
        default long headroomWaitNanos(ProviderSpec provider, int key) {
            return 0;
        }

        Fleet ALONE = new Fleet() {
            public int members() {
                return 1;
            }

            public boolean sharing() {
                return true;
            }
        };
    }

    /** The fleet this instance shares its keys with (alone until told). */
    public RateLimits sharedWith(Fleet fleet) {
        this.fleet = fleet;
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

    /**
     * Of this key's rpm in the current window: what is left of this instance's share, and what is left for the
     * fleet (as far as seen); null when the provider has no rpm.
     */
    public long[] requestsLeft(ProviderSpec provider, int key) {
        KeyBuckets buckets = provider.rpm() == null || key < 0 ? null : buckets(provider, key);
        if (buckets == null || buckets.requests == null) {
            return null;
        }
        synchronized (buckets) {
            buckets.roll(windowStart(System.currentTimeMillis()));
            long share = Math.max(1, provider.rpm() / Math.max(1, fleet.members()));
            return new long[] {Math.max(0, share - buckets.ownRequests), buckets.requests.getAvailableTokens()};
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

    /**
     * Takes one request and {@code tokens} from the key's buckets, and one call from the provider's last headroom
     * on it, or nothing at all when any is short.
     */
    public boolean tryAcquire(ProviderSpec provider, int key, long tokens) {
        if (key < 0) {
            return true;
        }
        if (!fleet.takeHeadroom(provider, key)) {
            return false;
        }
        if (!acquire(provider, key, tokens)) {
            fleet.returnHeadroom(provider, key);
            return false;
        }
        return true;
    }

    private boolean acquire(ProviderSpec provider, int key, long tokens) {
        if (!limited(provider)) {
            return true;
        }
        KeyBuckets buckets = buckets(provider, key);
        if (buckets == null) {
            return true;
        }
        long t = buckets.cap(tokens);
        synchronized (buckets) {
            if (!wouldFit(provider, buckets, tokens, System.currentTimeMillis())) {
                return false;
            }
            if (buckets.requests != null && !buckets.requests.tryConsume(1)) {
                return false;
            }
            if (buckets.tokens != null && !buckets.tokens.tryConsume(t)) {
                if (buckets.requests != null) {
                    buckets.requests.addTokens(1);
                }
                return false;
            }
            buckets.ownRequests++;
            buckets.ownTokens += t;
        }
        return true;
    }

    /** Whether a call of {@code tokens} fits this instance's part of the key's limits now. */
    private boolean wouldFit(ProviderSpec provider, KeyBuckets buckets, long tokens, long now) {
        long start = windowStart(now);
        int members = Math.max(1, fleet.members());
        boolean strict = !fleet.sharing();
        double elapsed = (now - start) / (double) Math.max(1, window.toMillis());
        synchronized (buckets) {
            buckets.roll(start);
            return (buckets.requests == null || fits(provider.rpm(), buckets.requests.getAvailableTokens(),
                    buckets.ownRequests, 1, members, strict, elapsed))
                    && (buckets.tokens == null || fits(provider.tpm(), buckets.tokens.getAvailableTokens(),
                    buckets.ownTokens, buckets.cap(tokens), members, strict, elapsed));
        }
    }

    /**
     * Whether a call of {@code amount} fits a limit of which {@code available} is left in this window (for the
     * fleet, as far as seen) and this instance took {@code own}. Within its share (limit ÷ members) it always
     * may; beyond it, only its part (÷ members) of what the other members' unused shares leave over, as all may
     * look at the same spare at once: the unused shares are held through {@link #HOLD} of the window (by then the
     * peers' calls of the window are seen), then shrink to nothing at its end (a member that has not used its share by then is unlikely to). Kept strictly to the share
     * while the peers' calls are not seen. The first call of a window always fits when the bucket has room.
     */
    /** The part of a window through which the other members' unused shares are held for them. */
    static final double HOLD = 0.9;

    static boolean fits(long limit, long available, long own, long amount, int members, boolean strict,
            double elapsed) {
        if (available < amount) {
            return false;
        }
        long share = Math.max(1, limit / members);
        if (own == 0 || own + amount <= share) {
            return true;
        }
        if (strict || members == 1) {
            return members == 1;
        }
        long peersSeen = Math.max(0, limit - available - own);
        // peers' calls are seen late; their unused shares are held for them through 90 % of the window
        double reserve = Math.max(0, (members - 1) * share - peersSeen)
                * Math.min(1, Math.max(0, (1 - elapsed) / (1 - HOLD)));
        // every member may see the same spare at once: each borrows only its part of it
        long borrowed = own - share;
        return borrowed + amount <= (available + Math.max(0, borrowed) - reserve) / members;
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
        synchronized (buckets) {
            buckets.ownTokens = Math.max(0, buckets.ownTokens + diff);
        }
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
        if (keyCount <= 0) {
            return Duration.ZERO;
        }
        long best = Long.MAX_VALUE;
        long now = System.currentTimeMillis();
        for (int key = 0; key < keyCount; key++) {
            long headroom = fleet.headroomWaitNanos(provider, key);
            KeyBuckets buckets = limited(provider) ? buckets(provider, key) : null;
            if (buckets == null) {
                best = Math.min(best, headroom);
                continue;
            }
            long wait = headroom;
            if (!wouldFit(provider, buckets, tokens, now)) {
                // past this instance's share: the next window
                wait = Math.max(wait, (windowStart(now) + window.toMillis() - now) * 1_000_000L);
            }
            if (buckets.requests != null) {
                wait = Math.max(wait, buckets.requests.estimateAbilityToConsume(1).getNanosToWaitForRefill());
            }
            if (buckets.tokens != null) {
                wait = Math.max(wait, buckets.tokens.estimateAbilityToConsume(buckets.cap(tokens))
                        .getNanosToWaitForRefill());
            }
            // shares and the fleet's count start afresh at every window: look again then at the latest
            long nextWindow = (windowStart(now) + window.toMillis() - now) * 1_000_000L;
            wait = Math.max(headroom, Math.min(wait, nextWindow));
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

    private static final class KeyBuckets {
        final Bucket requests;
        final Bucket tokens;
        final long tokenCapacity;
        // what this instance itself took in the current window (guarded by this)
        long windowStart;
        long ownRequests;
        long ownTokens;

        KeyBuckets(Bucket requests, Bucket tokens, long tokenCapacity) {
            this.requests = requests;
            this.tokens = tokens;
            this.tokenCapacity = tokenCapacity;
        }

        /** A call larger than the whole window's tokens can still go once the bucket is full. */
        long cap(long tokens) {
            return Math.max(1, Math.min(tokens, tokenCapacity));
        }

        void roll(long start) {
            if (start != windowStart) {
                windowStart = start;
                ownRequests = 0;
                ownTokens = 0;
            }
        }
    }
}
