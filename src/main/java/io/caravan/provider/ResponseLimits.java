package io.caravan.provider;

import io.caravan.Setting;
import io.caravan.Settings;

/**
 * How much of a provider's answer Caravan reads: the whole answer (counted after decompression), and for a stream
 * also one SSE line and one SSE event. An answer past a bound fails its attempt as {@code response_too_large}.
 */
public record ResponseLimits(long maxResponseBytes, int maxSseLineBytes, int maxSseEventBytes) {

    public static final long DEFAULT_MAX_RESPONSE_BYTES = Setting.PROVIDER_MAX_RESPONSE_BYTES.read(null);
    public static final int DEFAULT_MAX_SSE_LINE_BYTES = Setting.PROVIDER_MAX_SSE_LINE_BYTES.read(null);
    public static final int DEFAULT_MAX_SSE_EVENT_BYTES = Setting.PROVIDER_MAX_SSE_EVENT_BYTES.read(null);

    public ResponseLimits {
        if (maxResponseBytes <= 0 || maxSseLineBytes <= 0 || maxSseEventBytes <= 0) {
            throw new IllegalArgumentException("response limits must be greater than 0");
        }
    }

    public static ResponseLimits from(Settings settings) {
        return new ResponseLimits(
                settings.get(Setting.PROVIDER_MAX_RESPONSE_BYTES),
                settings.get(Setting.PROVIDER_MAX_SSE_LINE_BYTES),
                settings.get(Setting.PROVIDER_MAX_SSE_EVENT_BYTES));
    }

    /** These limits with a provider's own answer bound ({@code max_response_bytes}), when it has one. */
    public ResponseLimits forMaxResponseBytes(Long providerMax) {
        return providerMax == null ? this : new ResponseLimits(providerMax, maxSseLineBytes, maxSseEventBytes);
    }
}
