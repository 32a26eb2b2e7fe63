package io.caravan.provider;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.resilience.ProviderError;
import java.util.Map;

/**
 * Speaks one provider API ({@code api:} in the catalog). An adapter turns a {@link ChatRequest} into the
 * provider's request and the provider's answer back into a {@link ProviderReply} or a classified
 * {@link ProviderError}. It holds no state; keys reach it per call and never leave it except as a request header.
 *
 * <p>Adapters are found with {@link java.util.ServiceLoader}: a new API is a new package plus one line in
 * {@code META-INF/services/io.caravan.provider.ProviderAdapter}.
 */
public interface ProviderAdapter {

    /** The catalog's {@code api:} value, e.g. {@code openai}. */
    String api();

    /**
     * The Camel endpoint the deployment's calls go to, without options; for HTTP APIs the full URL
     * (Caravan adds timeouts and connection options).
     */
    String endpoint(ProviderSpec provider, DeploymentSpec deployment);

    /** Request headers for one call with one key, the provider's extra {@code headers} included. */
    Map<String, String> requestHeaders(ProviderSpec provider, String apiKey);

    /** The request body for this deployment. */
    byte[] requestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment);

    /**
     * Reads the provider's answer. Returns the reply for a success; throws a {@link ProviderError} carrying the
     * error class, the status and any server-given wait for everything else (malformed bodies included).
     *
     * @param headers the response headers, names in any case
     */
    ProviderReply readResponse(int status, Map<String, Object> headers, byte[] body, DeploymentSpec deployment);
}
