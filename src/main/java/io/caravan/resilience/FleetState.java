package io.caravan.resilience;

import io.caravan.accounting.UsageEvent;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.Headroom;
import io.caravan.task.Outcome;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What this instance learns from the rest of its fleet through the usage topic, and the provider's own view of a
 * key's limit (headroom). Fed every usage event the spend ledger reads; an event of this instance is skipped (it
 * was counted when it happened). For a peer's attempt on key K (found by its fingerprint among this instance's
 * keys of the provider):
 * <ul>
 *   <li>its request and tokens come out of this instance's rpm/tpm buckets for K ({@link RateLimits#peerCall});
 *   <li>{@code rate_limited}: K rests here until the peer's Retry-After (or one second) has passed;
 *   <li>{@code quota_exhausted} or {@code auth}: K cools down here for the key cooldown;
 *   <li>its headroom, when fresher than the one known and lower than the fleet's own count expects, caps what this
 *       instance sends on K until its reset (every instance hears the same headroom: each keeps its part).
 * </ul>
 * For a peer's attempt on a deployment this instance also has ({@link #deploymentsFrom}):
 * <ul>
 *   <li>{@code model_not_found}: the deployment leaves this instance's plans for its breaker's open time too;
 *   <li>a call's outcome (an answer, or a failure that counts against a deployment) is recorded in this
 *       instance's breaker for it, so every instance's breaker judges the fleet's calls and opens (or, half-open,
 *       closes) when a peer's would. A peer's {@code circuit_open} is not taken: it cannot tell a peer's own
 *       evidence from a rest that peer learned from another, and taking it would let two instances keep a
 *       deployment out for ever, each renewing the other's rest with no probe ever made.
 * </ul>
 * Each instance may always use its share of a limit (limit ÷ live instances) and, beyond it, what the others leave
 * unused ({@link RateLimits#fits}). When the topic lags by more than {@code maxLag} (or cannot be read) the
 * peers' calls are not seen in time: the instance then keeps strictly to its share ({@link #lagging()}), until the
 * reader catches up.
 */
public final class FleetState {

    private static final Logger LOG = LoggerFactory.getLogger(FleetState.class);
    /** A peer is live while its events keep coming: one seen within this is counted in the local share. */
    static final Duration LIVE = Duration.ofMinutes(1);
    /** Peers tracked at most (an outsider writing the topic must not grow the map). */
    static final int MAX_PEERS = 1024;

    private final String instance;
    private final KeyPool keys;
    private final RateLimits limits;
    private final Supplier<Map<String, ProviderSpec>> providers;
    private final Duration keyCooldown;
    private final Duration maxLag;
    private volatile LongSupplier lagMillis = () -> 0;
    private volatile boolean degraded;
    private volatile java.util.function.IntSupplier groupMembers = () -> 0;
    private volatile Breakers breakers;
    private final Map<String, Long> peersSeen = new LinkedHashMap<>(16, 0.75f, true);
    /** Per provider and key fingerprint; only keys this instance holds, so bounded by the catalog. */
    private final Map<String, KeyState> states = new ConcurrentHashMap<>();

    /** The provider's last word on one key, and why the fleet rests it. */
    static final class KeyState {
        volatile long headroomAtMillis = Long.MIN_VALUE;
        volatile long headroomUntilNanos = System.nanoTime();
        final AtomicLong headroomLeft = new AtomicLong(Long.MAX_VALUE);
        volatile Headroom lastHeadroom;
        volatile String restReason;
        volatile long restUntilMillis;
    }

    public FleetState(String instance, KeyPool keys, RateLimits limits, Supplier<Map<String, ProviderSpec>> providers,
            Duration keyCooldown, Duration maxLag) {
        this.instance = instance;
        this.keys = keys;
        this.limits = limits;
        this.providers = providers;
        this.keyCooldown = keyCooldown;
        this.maxLag = maxLag;
        limits.sharedWith(new RateLimits.Fleet() {
            public int members() {
                return liveInstances();
            }

            public boolean sharing() {
                return !lagging();
            }

            public boolean takeHeadroom(ProviderSpec provider, int key) {
                return FleetState.this.takeHeadroom(provider, key);
            }

            public void returnHeadroom(ProviderSpec provider, int key) {
                FleetState.this.returnHeadroom(provider, key);
            }

            public long headroomWaitNanos(ProviderSpec provider, int key) {
                return FleetState.this.headroomWaitNanos(provider, key);
            }
        });
    }

    /** How far behind the usage topic the reader is (ms); the spend ledger tells. */
    public FleetState lagFrom(LongSupplier lagMillis) {
        this.lagMillis = lagMillis;
        return this;
    }

    /** The deployments' breakers, which learn the peers' calls and their {@code model_not_found}. */
    public FleetState deploymentsFrom(Breakers breakers) {
        this.breakers = breakers;
        return this;
    }

    public String instance() {
        return instance;
    }

    /** A usage event read from the topic. */
    public void apply(UsageEvent e) {
        if (e == null || e.instance() == null || e.instance().equals(instance)) {
            return;
        }
        long now = System.currentTimeMillis();
        long at = e.ts().toEpochMilli();
        if (now - at < LIVE.toMillis()) {
            seen(e.instance(), at);
            deployment(e, now - at);
        }
        if (e.keyId() == null || e.provider() == null) {
            return; // no call was made, or the provider has no keys
        }
        ProviderSpec provider = providers.get().get(e.provider());
        int key = provider == null ? -1 : keys.indexOf(provider.name(), e.keyId());
        if (key < 0) {
            return; // a key this instance does not hold
        }
        limits.peerCall(provider, key, at, e.inputTokens() + e.outputTokens());
        // a peer's key rests as the error table cools one of ours
        ErrorClass failure = ErrorClass.fromWireName(e.outcome());
        ErrorPolicy.KeyCooldown cooldown = failure == null ? ErrorPolicy.KeyCooldown.NONE : failure.policy().keyCooldown();
        if (cooldown == ErrorPolicy.KeyCooldown.SERVER_WAIT) {
            long wait = e.retryAfterMs() != null ? e.retryAfterMs() : ErrorPolicy.RATE_LIMIT_COOLDOWN.toMillis();
            rest(provider.name(), key, e.keyId(), at + wait, now, failure.wireName() + " at " + e.instance());
        } else if (cooldown == ErrorPolicy.KeyCooldown.CONFIGURED) {
            rest(provider.name(), key, e.keyId(), at + keyCooldown.toMillis(), now, failure.wireName() + " at " + e.instance());
        }
        if (e.headroom() != null) {
            headroom(provider.name(), e.keyId(), e.headroom(), at);
        }
    }

    /**
     * A peer's attempt on a deployment: its {@code model_not_found} rests the deployment here; a recent call's outcome
     * counts in this instance's breaker. Attempts without a call (skipped for an open breaker, cooling keys or
     * capacity) say nothing of the deployment; outcomes older than the lag allowed are history (the month's replay at
     * start-up) and would fill the breaker's window with the past.
     */
    private void deployment(UsageEvent e, long ageMs) {
        Breakers b = breakers;
        var breaker = b == null || e.deployment() == null ? null : b.find(e.deployment());
        if (breaker == null || e.outcome() == null) {
            return;
        }
        if (ErrorClass.MODEL_NOT_FOUND.wireName().equals(e.outcome())) {
            b.coolDown(e.deployment());
            LOG.debug("fleet: deployment {} rests: model_not_found at {}", e.deployment(), e.instance());
            return;
        }
        if (ageMs > maxLag.toMillis()) {
            return;
        }
        if (e.outcomeType() == Outcome.OK) {
            breaker.onSuccess(e.latencyMs(), java.util.concurrent.TimeUnit.MILLISECONDS);
            return;
        }
        ErrorClass failure = ErrorClass.fromWireName(e.outcome());
        // skips without a call are of classes that do not count (circuit_open, and rate_limited is the key's)
        if (failure != null && failure.policy().countsAgainstBreaker()) {
            breaker.onError(e.latencyMs(), java.util.concurrent.TimeUnit.MILLISECONDS,
                    new ProviderError(failure, 0, failure.wireName() + " at " + e.instance()));
        }
    }

    /** The headroom this instance's own call on {@code key} brought back (null when the provider sent none). */
    public void reported(ProviderSpec provider, int key, Headroom headroom) {
        if (headroom == null || key < 0) {
            return;
        }
        String keyId = keys.keyId(provider.name(), key);
        if (keyId != null) {
            long now = System.currentTimeMillis();
            headroom(provider.name(), keyId, headroom, now);
        }
    }

    /** Takes one call from the provider's last headroom on {@code key} while it holds; false when used up. */
    boolean takeHeadroom(ProviderSpec provider, int key) {
        KeyState s = capped(provider, key);
        if (s != null && s.headroomLeft.getAndDecrement() <= 0) {
            s.headroomLeft.incrementAndGet();
            return false;
        }
        return true;
    }

    void returnHeadroom(ProviderSpec provider, int key) {
        KeyState s = capped(provider, key);
        if (s != null) {
            s.headroomLeft.incrementAndGet();
        }
    }

    /** Nanoseconds until the key's used-up headroom resets; 0 when it has room or none holds. */
    long headroomWaitNanos(ProviderSpec provider, int key) {
        KeyState s = capped(provider, key);
        return s == null || s.headroomLeft.get() > 0 ? 0 : Math.max(0, s.headroomUntilNanos - System.nanoTime());
    }

    /** The key's state while a headroom caps it, else null. */
    private KeyState capped(ProviderSpec provider, int key) {
        String keyId = keys.keyId(provider.name(), key);
        KeyState s = keyId == null ? null : states.get(stateKey(provider.name(), keyId));
        return s != null && s.headroomUntilNanos - System.nanoTime() > 0 ? s : null;
    }

    /** Live members of the tasks consumer group (0 when unknown); the larger of it and the peers seen counts. */
    public FleetState membersFrom(java.util.function.IntSupplier groupMembers) {
        this.groupMembers = groupMembers;
        return this;
    }

    /**
     * Whether the peers' calls are seen too late to share limits with them: then this instance keeps strictly to its
     * share of each limit. The switch is logged once each way.
     */
    public boolean lagging() {
        boolean late = lagMillis.getAsLong() > maxLag.toMillis();
        if (late != degraded) {
            synchronized (this) {
                if (late != degraded) {
                    degraded = late;
                    if (late && liveInstances() == 1) {
                        LOG.debug("fleet: the usage topic lags by more than {} ms (alone: nothing to share)",
                                maxLag.toMillis());
                    } else if (late) {
                        LOG.warn("fleet: the usage topic lags by more than {} ms; keeping to this instance's local "
                                + "share of every rate limit (1/{}) until it catches up", maxLag.toMillis(),
                                liveInstances());
                    } else {
                        LOG.info("fleet: the usage topic caught up; sharing rate limits with the fleet again");
                    }
                }
            }
        }
        return late;
    }

    /** True while the peers' calls are not seen in time and this instance keeps to its local share. */
    public boolean degraded() {
        return degraded;
    }

    public long lagMillis() {
        return lagMillis.getAsLong();
    }

    /**
     * Instances sharing the keys: the live members of the consumer group, or, when more, the instances seen on
     * the topic within the last minute (this one included).
     */
    public int liveInstances() {
        long since = System.currentTimeMillis() - LIVE.toMillis();
        int seen;
        synchronized (peersSeen) {
            peersSeen.values().removeIf(at -> at < since);
            seen = 1 + peersSeen.size();
        }
        return Math.max(seen, groupMembers.getAsInt());
    }

    /** Gauges: {@code caravan_fleet_local_share} (1 while keeping to the local share), the topic's lag, members. */
    public void register(io.micrometer.core.instrument.MeterRegistry registry) {
        io.micrometer.core.instrument.Gauge.builder("caravan_fleet_local_share", this, f -> f.lagging() ? 1 : 0)
                .description("1 while the usage topic lags and this instance keeps to its local share of each limit")
                .register(registry);
        io.micrometer.core.instrument.Gauge.builder("caravan_fleet_usage_lag_seconds", this,
                f -> Math.min(f.lagMillis(), 86_400_000L) / 1000.0)
                .description("How far behind the usage topic this instance reads its peers' calls")
                .register(registry);
        io.micrometer.core.instrument.Gauge.builder("caravan_fleet_members", this, FleetState::liveInstances)
                .description("Live instances sharing the keys' limits, this one included")
                .register(registry);
    }

    /**
     * The {@code fleet} section of /status: whether limits are shared or kept to the local share (and why), and per
     * key fingerprint the fleet's use this window, this instance's share, the last headroom, and why it rests.
     */
    public com.fasterxml.jackson.databind.node.ObjectNode status() {
        var root = io.caravan.util.Json.object();
        boolean late = lagging();
        long lag = lagMillis();
        int members = liveInstances();
        root.put("instance", instance);
        root.put("members", members);
        root.put("mode", late ? "local_share" : "shared");
        root.put("usage_lag_ms", lag == Long.MAX_VALUE ? null : lag);
        if (late) {
            root.put("reason", lag == Long.MAX_VALUE ? "the usage topic has not been read yet"
                    : "the usage topic lags by more than " + maxLag.toMillis() + " ms");
        }
        var list = root.putArray("keys");
        long now = System.currentTimeMillis();
        for (ProviderSpec p : new java.util.TreeMap<>(providers.get()).values()) {
            java.util.List<String> ids = keys.keyIds(p.name());
            for (int k = 0; k < ids.size(); k++) {
                var n = list.addObject();
                n.put("provider", p.name());
                n.put("key_id", ids.get(k));
                n.put("window_ms", limits.window().toMillis());
                Long used = limits.requestsUsed(p, k);
                n.put("fleet_requests_this_window", used);
                n.put("rpm", p.rpm());
                n.put("tpm", p.tpm());
                n.put("share_rpm", p.rpm() == null ? null : Math.max(1, p.rpm() / members));
                n.put("share_tpm", p.tpm() == null ? null : Math.max(1, p.tpm() / members));
                KeyState s = states.get(stateKey(p.name(), ids.get(k)));
                Headroom h = s == null ? null : s.lastHeadroom;
                if (h == null) {
                    n.putNull("headroom");
                } else {
                    var hn = n.putObject("headroom");
                    hn.put("requests", h.requests());
                    hn.put("tokens", h.tokens());
                    hn.put("reset_ms", h.resetMs());
                    hn.put("age_ms", now - s.headroomAtMillis);
                }
                Long until = keys.coolingUntil(p.name(), k);
                long restLeft = until == null ? 0 : Math.max(0, (until - System.nanoTime()) / 1_000_000L);
                n.put("resting_ms", restLeft);
                String why = s != null && s.restUntilMillis > now ? s.restReason : restLeft > 0 ? "this instance" : null;
                n.put("resting_because", why);
            }
        }
        return root;
    }

    private void seen(String peer, long at) {
        synchronized (peersSeen) {
            peersSeen.merge(peer, at, Math::max);
            if (peersSeen.size() > MAX_PEERS) {
                Iterator<String> eldest = peersSeen.keySet().iterator();
                eldest.next();
                eldest.remove();
            }
        }
    }

    private void rest(String provider, int key, String keyId, long untilMillis, long now, String reason) {
        if (untilMillis <= now) {
            return;
        }
        keys.coolDown(provider, key, Duration.ofMillis(untilMillis - now));
        KeyState s = state(provider, keyId);
        if (untilMillis >= s.restUntilMillis) {
            s.restUntilMillis = untilMillis;
            s.restReason = reason;
        }
        LOG.debug("fleet: key {} of {} rests {} ms: {}", keyId, provider, untilMillis - now, reason);
    }

    /**
     * Takes a headroom reported at {@code atMillis} when it is the freshest known. Until its reset it caps this
     * instance's sends on the key when the provider has less left than the fleet's own count expects (a limit the
     * catalog does not know, or knows wrong): every instance hears the same headroom, so each keeps its share of it.
     */
    private void headroom(String provider, String keyId, Headroom h, long atMillis) {
        KeyState s = state(provider, keyId);
        synchronized (s) {
            if (atMillis < s.headroomAtMillis) {
                return;
            }
            s.headroomAtMillis = atMillis;
            s.lastHeadroom = h;
            long now = System.currentTimeMillis();
            long resetLeft = h.resetMs() == null ? 0 : atMillis + h.resetMs() - now;
            long cap = h.requests() == null || resetLeft <= 0 ? Long.MAX_VALUE : cap(provider, keyId, h.requests());
            if (cap != Long.MAX_VALUE) {
                s.headroomLeft.set(cap);
                s.headroomUntilNanos = System.nanoTime() + resetLeft * 1_000_000L;
            } else {
                s.headroomUntilNanos = System.nanoTime();
                s.headroomLeft.set(Long.MAX_VALUE);
            }
        }
    }

    /**
     * What this instance may still send on the key while the provider says {@code remaining} are left: nothing
     * more than the fleet's own count allows when the provider agrees with it, allowing for what peers may have
     * sent unseen (their shares); else this instance's share of {@code remaining}.
     */
    private long cap(String provider, String keyId, long remaining) {
        ProviderSpec spec = providers.get().get(provider);
        int key = spec == null ? -1 : keys.indexOf(provider, keyId);
        long[] left = key < 0 ? null : limits.requestsLeft(spec, key);
        int members = liveInstances();
        if (left != null) {
            long unseen = (members - 1) * Math.max(1, spec.rpm() / members);
            if (remaining >= left[1] - unseen) {
                return Long.MAX_VALUE; // the catalog's limit is the tighter one
            }
        }
        return remaining / members;
    }

    private KeyState state(String provider, String keyId) {
        return states.computeIfAbsent(stateKey(provider, keyId), k -> new KeyState());
    }

    private static String stateKey(String provider, String keyId) {
        return provider + '\u0000' + keyId;
    }
}
