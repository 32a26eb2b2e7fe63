package io.caravan.resilience;

import io.caravan.catalog.ProviderSpec;
import io.caravan.util.Redaction;
import io.caravan.util.Sha256;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The API keys of every provider: round-robin across them, and a cooldown per key (a short one after a rate
 * limit, a long one after quota or auth errors). Keys never leave this class except to the adapter building
 * the request; everything else speaks of key indexes. The secrets of the providers it holds (keys, secret headers,
 * URL credentials) are what {@link Redaction} takes out of provider text, so redaction follows catalog reloads.
 */
public final class KeyPool {

    private final Map<String, ProviderKeys> providers = new ConcurrentHashMap<>();

    /** Takes the keys of these providers, keeping the cooldowns of providers whose keys did not change. */
    public void load(Map<String, ProviderSpec> specs) {
        Redaction.track(this, secrets(specs.values()));
        providers.keySet().retainAll(specs.keySet());
        specs.forEach((name, spec) -> providers.compute(name, (n, old) ->
                old != null && old.keys.equals(spec.apiKeys()) ? old : new ProviderKeys(spec.apiKeys())));
    }

    /** Drops every key, and their redaction with them (a stopped Caravan has nothing left to pass on). */
    public void forget() {
        load(Map.of());
    }

    /**
     * Every secret these providers hold: their keys (whatever their length), and values of 8 characters or more
     * of secret-named headers and settings (a short one, such as a flag, is no secret) and of base URL credentials.
     */
    static List<String> secrets(Collection<ProviderSpec> specs) {
        List<String> out = new ArrayList<>();
        List<String> others = new ArrayList<>();
        for (ProviderSpec spec : specs) {
            out.addAll(spec.apiKeys());
            if (spec.headers() != null) {
                spec.headers().forEach((name, value) -> {
                    if (Redaction.secretName(name) && value != null) {
                        String v = value.trim();
                        others.add(v);
                        others.add(v.substring(v.indexOf(' ') + 1).trim()); // "Bearer <token>": the token alone
                    }
                });
            }
            if (spec.settings() != null) {
                spec.settings().forEach((name, value) -> {
                    if (Redaction.secretName(name) && value instanceof String text) {
                        others.add(text.trim());
                    }
                });
            }
            others.addAll(Redaction.secretsOfUrl(spec.baseUrl()));
        }
        others.stream().filter(v -> v.length() >= 8).forEach(out::add);
        return out;
    }

    public int size(String provider) {
        ProviderKeys keys = providers.get(provider);
        return keys == null ? 0 : keys.keys.size();
    }

    /** The next key not cooling down, round-robin, or -1 when every key is cooling down (or there is none). */
    public int pick(String provider) {
        return pick(provider, key -> true);
    }

    /**
     * The next key not cooling down that {@code usable} accepts (e.g. one with rate-limit capacity, which the
     * predicate may take), round-robin, or -1 when there is none.
     */
    public int pick(String provider, java.util.function.IntPredicate usable) {
        ProviderKeys keys = providers.get(provider);
        if (keys == null || keys.keys.isEmpty()) {
            return -1;
        }
        long now = System.nanoTime();
        int n = keys.keys.size();
        int start = Math.floorMod(keys.next.getAndIncrement(), n);
        for (int i = 0; i < n; i++) {
            int idx = (start + i) % n;
            if (keys.coolUntil.get(idx) - now <= 0 && usable.test(idx)) {
                return idx;
            }
        }
        return -1;
    }

    public String key(String provider, int index) {
        return providers.get(provider).keys.get(index);
    }

    /** The fingerprint of a key of this provider ({@link #fingerprint}), or null when there is no such key. */
    public String keyId(String provider, int index) {
        ProviderKeys keys = providers.get(provider);
        return keys == null || index < 0 || index >= keys.ids.size() ? null : keys.ids.get(index);
    }

    /** The index of this provider's key with this fingerprint, or -1 (a key this instance does not hold). */
    public int indexOf(String provider, String keyId) {
        ProviderKeys keys = providers.get(provider);
        return keys == null || keyId == null ? -1 : keys.ids.indexOf(keyId);
    }

    /** The fingerprints of this provider's keys, in key order. */
    public List<String> keyIds(String provider) {
        ProviderKeys keys = providers.get(provider);
        return keys == null ? List.of() : keys.ids;
    }

    /**
     * A key's public name (contract section 10): the first 12 hex digits of the SHA-256 of the key. The fleet's
     * instances name keys by it on the usage topic; the key itself never leaves.
     */
    public static String fingerprint(String key) {
        return Sha256.hex(key).substring(0, 12);
    }

    /** When this key is usable again (a {@link System#nanoTime()}), or null for no such key. */
    public Long coolingUntil(String provider, int index) {
        ProviderKeys keys = providers.get(provider);
        return keys == null || index < 0 || index >= keys.keys.size() ? null : keys.coolUntil.get(index);
    }

    public void coolDown(String provider, int index, Duration duration) {
        ProviderKeys keys = providers.get(provider);
        if (keys == null || index < 0 || index >= keys.keys.size()) {
            return;
        }
        long until = System.nanoTime() + duration.toNanos();
        keys.coolUntil.accumulateAndGet(index, until, Math::max);
    }

    /** True when some key other than {@code index} is usable now. */
    public boolean anotherAvailable(String provider, int index) {
        ProviderKeys keys = providers.get(provider);
        if (keys == null) {
            return false;
        }
        long now = System.nanoTime();
        for (int i = 0; i < keys.keys.size(); i++) {
            if (i != index && keys.coolUntil.get(i) - now <= 0) {
                return true;
            }
        }
        return false;
    }

    /** How long until the first key of this provider is usable again (zero when one is usable now). */
    public Duration untilAvailable(String provider) {
        ProviderKeys keys = providers.get(provider);
        if (keys == null || keys.keys.isEmpty()) {
            return null;
        }
        long now = System.nanoTime();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < keys.keys.size(); i++) {
            best = Math.min(best, Math.max(0, keys.coolUntil.get(i) - now));
        }
        return Duration.ofNanos(best);
    }

    private static final class ProviderKeys {
        final List<String> keys;
        final List<String> ids;
        final AtomicInteger next = new AtomicInteger();
        final AtomicLongArray coolUntil;

        ProviderKeys(List<String> keys) {
            this.keys = List.copyOf(keys);
            this.ids = this.keys.stream().map(KeyPool::fingerprint).toList();
            this.coolUntil = new AtomicLongArray(keys.size());
            long now = System.nanoTime();
            for (int i = 0; i < keys.size(); i++) {
                coolUntil.set(i, now);
            }
        }
    }
}
