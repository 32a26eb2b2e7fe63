package io.caravan.catalog;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A loaded, validated catalog: providers, deployments grouped by name, fallback chains and tiers.
 * Immutable; a reload builds a new one.
 */
public record Catalog(
        String source,
        Map<String, ProviderSpec> providers,
        Map<String, List<DeploymentSpec>> groups,
        Map<String, List<String>> fallbacks,
        Map<String, List<String>> contextWindowFallbacks,
        Map<String, TierSpec> tiers,
        String defaultTier,
        RoutingSpec routing,
        CircuitBreakerSpec circuitBreaker,
        BudgetSpec budgets,
        ShapingSpec shaping,
        Map<String, List<String>> contentFilterFallbacks,
        Map<String, TenantSpec> tenants,
        BatchSpec batches) {

    /** A catalog without {@code content_filter_fallbacks}, tenants and batch settings. */
    public Catalog(String source, Map<String, ProviderSpec> providers, Map<String, List<DeploymentSpec>> groups,
            Map<String, List<String>> fallbacks, Map<String, List<String>> contextWindowFallbacks,
            Map<String, TierSpec> tiers, String defaultTier, RoutingSpec routing, CircuitBreakerSpec circuitBreaker,
            BudgetSpec budgets, ShapingSpec shaping) {
        this(source, providers, groups, fallbacks, contextWindowFallbacks, tiers, defaultTier, routing,
                circuitBreaker, budgets, shaping, Map.of(), Map.of(), BatchSpec.NONE);
    }

    /** A catalog without traffic-shaping blocks. */
    public Catalog(String source, Map<String, ProviderSpec> providers, Map<String, List<DeploymentSpec>> groups,
            Map<String, List<String>> fallbacks, Map<String, List<String>> contextWindowFallbacks,
            Map<String, TierSpec> tiers, String defaultTier, RoutingSpec routing, CircuitBreakerSpec circuitBreaker,
            BudgetSpec budgets) {
        this(source, providers, groups, fallbacks, contextWindowFallbacks, tiers, defaultTier, routing,
                circuitBreaker, budgets, ShapingSpec.NONE);
    }

    /** Whether the catalog has a {@code tenants:} block: callers are then identified by key or record header. */
    public boolean hasTenants() {
        return !tenants.isEmpty();
    }

    /** The tenant of this name, or null. */
    public TenantSpec tenant(String name) {
        return name == null ? null : tenants.get(name);
    }

    public List<DeploymentSpec> group(String name) {
        return groups.getOrDefault(name, List.of());
    }

    public boolean hasGroup(String name) {
        return groups.containsKey(name);
    }

    public ProviderSpec provider(String name) {
        return providers.get(name);
    }

    public ProviderSpec providerOf(DeploymentSpec deployment) {
        return providers.get(deployment.provider());
    }

    public List<DeploymentSpec> deployments() {
        List<DeploymentSpec> all = new ArrayList<>();
        groups.values().forEach(all::addAll);
        return all;
    }

    public TierSpec tier(String name) {
        return tiers.get(name);
    }

    /** The first tier (cheapest first) whose target is this group, or null. */
    public TierSpec tierOfGroup(String group) {
        return tiers.values().stream().filter(t -> t.group().equals(group)).findFirst().orElse(null);
    }

    /** The groups tried after {@code group} fails, in order, following fallbacks of fallbacks, each once. */
    public List<String> fallbackChain(String group) {
        return chain(group, fallbacks);
    }

    /** Like {@link #fallbackChain} but for context-window errors. */
    public List<String> contextWindowChain(String group) {
        return chain(group, contextWindowFallbacks);
    }

    /** Like {@link #fallbackChain} but for content-filter refusals ({@code content_filter_fallbacks}). */
    public List<String> contentFilterChain(String group) {
        return chain(group, contentFilterFallbacks == null ? Map.of() : contentFilterFallbacks);
    }

    private static List<String> chain(String group, Map<String, List<String>> edges) {
        Set<String> seen = new LinkedHashSet<>();
        seen.add(group);
        walk(group, edges, seen);
        seen.remove(group);
        return List.copyOf(seen);
    }

    private static void walk(String group, Map<String, List<String>> edges, Set<String> seen) {
        for (String next : edges.getOrDefault(group, List.of())) {
            if (seen.add(next)) {
                walk(next, edges, seen);
            }
        }
    }

    /** Tiers in file order (cheapest first), as a copy safe to iterate. */
    public List<TierSpec> tierList() {
        return List.copyOf(new LinkedHashMap<>(tiers).values());
    }
}
