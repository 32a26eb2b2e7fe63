package io.caravan.catalog;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One entry under {@code providers:}. {@code apiKeys} holds the expanded, non-empty keys; it is never printed
 * (see {@link #toString()}). {@code settings} keeps adapter-specific extras such as the simulated provider's
 * {@code latency}, {@code error_rate} and {@code error_status}.
 */
public record ProviderSpec(
        String name,
        String api,
        String baseUrl,
        List<String> apiKeys,
        Map<String, String> headers,
        Duration timeout,
        int retries,
        Duration backoff,
        Integer rpm,
        Integer tpm,
        Map<String, Object> settings) {

    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_BACKOFF = Duration.ofMillis(500);
    public static final int DEFAULT_RETRIES = 2;

    public String setting(String key, String fallback) {
        Object value = settings == null ? null : settings.get(key);
        return value == null ? fallback : String.valueOf(value);
    }

    @Override
    public String toString() {
        return "ProviderSpec[" + name + ", api=" + api + ", baseUrl=" + baseUrl + ", keys=" + apiKeys.size() + "]";
    }
}
