package io.caravan.catalog;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One entry under {@code providers:}. {@code apiKeys} holds the expanded, non-empty keys; it is never printed
 * (see {@link #toString()}). {@code settings} keeps adapter-specific extras such as the simulated provider's
 * {@code latency}, {@code error_rate} and {@code error_status}. {@code maxResponseBytes} is the provider's own bound on
 * one answer, or null for the {@code caravan.provider.max-response-bytes} setting.
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
        Map<String, Object> settings,
        Long maxResponseBytes) {

    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_BACKOFF = Duration.ofMillis(500);
    public static final int DEFAULT_RETRIES = 2;

    /** A provider without its own answer bound ({@code max_response_bytes}): the setting's applies. */
    public ProviderSpec(String name, String api, String baseUrl, List<String> apiKeys, Map<String, String> headers,
            Duration timeout, int retries, Duration backoff, Integer rpm, Integer tpm, Map<String, Object> settings) {
        this(name, api, baseUrl, apiKeys, headers, timeout, retries, backoff, rpm, tpm, settings, null);
    }

    public String setting(String key, String fallback) {
        Object value = settings == null ? null : settings.get(key);
        return value == null ? fallback : String.valueOf(value);
    }

    @Override
    public String toString() {
        return "ProviderSpec[" + name + ", api=" + api + ", baseUrl=" + baseUrl + ", keys=" + apiKeys.size() + "]";
    }
}
