package io.caravan.provider;

import io.caravan.catalog.ProviderSpec;

/**
 * One call as it will leave, for the adapter's authentication step: the final URL (query included) and the exact
 * body bytes, so that an adapter can sign them (AWS SigV4 signs both). {@code apiKey} is the key picked for this
 * call, or null when the provider authenticates with cloud credentials or needs none.
 */
public record UpstreamRequest(ProviderSpec provider, String url, byte[] body, String apiKey, boolean streaming) {

    @Override
    public String toString() {
        return "UpstreamRequest[" + provider.name() + " " + url + ", " + (body == null ? 0 : body.length) + " bytes"
                + (streaming ? ", streaming" : "") + "]"; // never the key
    }
}
