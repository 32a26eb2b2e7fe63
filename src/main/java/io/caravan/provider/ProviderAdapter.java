package io.caravan.provider;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.resilience.ProviderError;
import java.io.InputStream;
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

    // ---- streaming (optional): an adapter that streams overrides all four ----

    /** Whether this adapter can stream answers ({@code "stream": true} on the chat API). */
    default boolean streams() {
        return false;
    }

    /** The endpoint of a streaming call (Gemini has its own); by default the ordinary one. */
    default String streamEndpoint(ProviderSpec provider, DeploymentSpec deployment) {
        return endpoint(provider, deployment);
    }

    /** The request body of a streaming call (asks the provider for usage in the stream where it must be asked). */
    default byte[] streamRequestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        throw new UnsupportedOperationException("api " + api() + " does not stream");
    }

    /**
     * Wraps a successful (2xx) streaming response. Nothing is read yet; the caller reads the first delta inside the
     * deployment attempt, so early failures are retried and fall back like any failed call.
     *
     * @param body    the response body, read by one thread
     * @param abort   drops the connection (makes a blocked read fail); safe from any thread
     */
    default ProviderStream openStream(InputStream body, Map<String, Object> headers, DeploymentSpec deployment,
            Runnable abort) {
        throw new UnsupportedOperationException("api " + api() + " does not stream");
    }
}
