package io.caravan.dispatch;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.camel.CamelContext;
import org.apache.camel.Endpoint;

/**
 * The provider endpoints of one Caravan, resolved once per URI. The attempt route's {@code toD} is given the
 * endpoint itself, so Camel does not parse and normalise the same upstream URI again for every call.
 */
public final class UpstreamEndpoints {

    private final Map<String, Endpoint> byUri = new ConcurrentHashMap<>();

    public Endpoint resolve(CamelContext camel, String uri) {
        Endpoint endpoint = byUri.get(uri);
        return endpoint != null ? endpoint : byUri.computeIfAbsent(uri, camel::getEndpoint);
    }
}
