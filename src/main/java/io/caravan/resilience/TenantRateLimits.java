package io.caravan.resilience;

import io.caravan.accounting.UsageEvent;
import io.caravan.catalog.ProviderSpec;
import io.caravan.catalog.TenantSpec;
import io.caravan.task.Outcome;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A tenant's own {@code rpm}/{@code tpm}, for the tenant as a whole across the fleet. The same machinery as the
 * providers' limits: a {@link RateLimits} whose "providers" are the tenants (one key each), shared with the fleet
 * as {@link FleetState} shares the providers' (each instance keeps to its share and borrows only its part of what
 * the others leave), and the peers' calls come from the usage topic ({@link #apply}). Only tenants of the catalog
 * with a limit are tracked, so the state is bounded by the catalog.
 */
public final class TenantRateLimits {

    private final RateLimits limits;
    private final String instance;
    private final Map<String, ProviderSpec> specs = new ConcurrentHashMap<>();
    private volatile Map<String, TenantSpec> tenants = Map.of();

    public TenantRateLimits(Duration window, FleetState fleet) {
        this.instance = fleet == null ? null : fleet.instance();
        this.limits = new RateLimits(window);
        if (fleet != null) {
            limits.sharedWith(new RateLimits.Fleet() {
                public int members() {
                    return fleet.liveInstances();
                }

                public boolean sharing() {
                    return !fleet.lagging();
                }
            });
        }
    }

    /** The tenants in force (a catalog swap calls this). */
    public void tenants(Map<String, TenantSpec> tenants) {
        this.tenants = tenants;
        specs.keySet().retainAll(tenants.keySet());
    }

    public static boolean limited(TenantSpec tenant) {
        return tenant != null && (tenant.rpm() != null || tenant.tpm() != null);
    }

    /** Takes one request and {@code tokens} of the tenant's limits now; false (nothing taken) when short. */
    public boolean tryAcquire(TenantSpec tenant, long tokens) {
        return !limited(tenant) || limits.tryAcquire(spec(tenant), 0, tokens);
    }

    /** How long until the tenant can make a call of {@code tokens}. */
    public Duration untilCapacity(TenantSpec tenant, long tokens) {
        return limited(tenant) ? limits.untilCapacity(spec(tenant), 1, tokens) : Duration.ZERO;
    }

    /** Replaces a call's estimated tokens by those the provider counted. */
    public void correct(TenantSpec tenant, long estimated, long actual) {
        if (limited(tenant)) {
            limits.correct(spec(tenant), 0, estimated, actual);
        }
    }

    /** Requests of the tenant's rpm used in this window, by the fleet as far as seen; null without an rpm. */
    public Long requestsUsed(TenantSpec tenant) {
        return tenant == null || tenant.rpm() == null ? null : limits.requestsUsed(spec(tenant), 0);
    }

    public Duration window() {
        return limits.window();
    }

    /** A usage event read from the topic: a peer's call for a limited tenant comes out of its buckets here. */
    public void apply(UsageEvent e) {
        if (e == null || e.tenant() == null || e.instance() == null || e.instance().equals(instance)) {
            return;
        }
        TenantSpec tenant = tenants.get(e.tenant());
        if (!limited(tenant) || !madeCall(e)) {
            return;
        }
        limits.peerCall(spec(tenant), 0, e.ts().toEpochMilli(), e.inputTokens() + e.outputTokens());
    }

    /** An attempt that reached a provider (not a wait, nor a deployment skipped without a call). */
    static boolean madeCall(UsageEvent e) {
        Outcome outcome = e.outcomeType();
        return outcome == Outcome.OK || e.latencyMs() > 0 && outcome != Outcome.WAITED && outcome != Outcome.ESCALATED;
    }

    private ProviderSpec spec(TenantSpec tenant) {
        ProviderSpec known = specs.get(tenant.name());
        if (known != null && java.util.Objects.equals(known.rpm(), tenant.rpm())
                && java.util.Objects.equals(known.tpm(), tenant.tpm())) {
            return known;
        }
        // one "key" per tenant: the bucket pair of the tenant as a whole
        ProviderSpec spec = new ProviderSpec("tenant:" + tenant.name(), "simulated", null, List.of("tenant"), Map.of(),
                ProviderSpec.DEFAULT_TIMEOUT, 0, ProviderSpec.DEFAULT_BACKOFF, tenant.rpm(), tenant.tpm(), Map.of());
        specs.put(tenant.name(), spec);
        return spec;
    }
}
