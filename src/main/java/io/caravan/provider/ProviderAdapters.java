package io.caravan.provider;

import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;

/** The adapters on the class path, by {@code api} name. */
public final class ProviderAdapters {

    private static final Map<String, ProviderAdapter> BY_API = load();

    private ProviderAdapters() {}

    private static Map<String, ProviderAdapter> load() {
        Map<String, ProviderAdapter> adapters = new TreeMap<>();
        for (ProviderAdapter adapter : ServiceLoader.load(ProviderAdapter.class)) {
            adapters.put(adapter.api(), adapter);
        }
        return Map.copyOf(adapters);
    }

    public static ProviderAdapter forApi(String api) {
        ProviderAdapter adapter = BY_API.get(api);
        if (adapter == null) {
            throw new IllegalArgumentException("no adapter for api '" + api + "'");
        }
        return adapter;
    }

    /** The adapter of this provider: its api's, in the dialect the provider speaks. */
    public static ProviderAdapter forProvider(io.caravan.catalog.ProviderSpec provider) {
        return forApi(provider.api()).dialect(provider);
    }

    /** Every adapter on the class path. */
    public static java.util.Collection<ProviderAdapter> all() {
        return BY_API.values();
    }

    public static boolean supports(String api) {
        return BY_API.containsKey(api);
    }

    public static Set<String> apis() {
        return new java.util.TreeSet<>(BY_API.keySet());
    }
}
