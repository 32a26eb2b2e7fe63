package io.caravan.provider;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.resilience.ProviderError;
import java.io.InputStream;
import java.util.List;
import java.util.Map;

/**
 * Speaks one provider API ({@code api:} in the catalog). An adapter turns a {@link ChatRequest} into the
 * provider's request and the provider's answer back into a {@link ProviderReply} or a classified
 * {@link ProviderError}. It holds no state; keys reach it per call and never leave it except as a request header.
 *
 * <p>Adapters are found with {@link java.util.ServiceLoader}: a new API is a new package plus one line in
 * {@code META-INF/services/io.caravan.provider.ProviderAdapter}. The catalog loader, the planner and
 * {@code caravan check} ask the adapter what it needs ({@link #credentials}, {@link #defaultBaseUrl},
 * {@link #problems}); nothing else lists apis. See {@code docs/adding-a-provider.md}.
 */
public interface ProviderAdapter {

    /** How a provider's calls are authenticated, which decides whether a provider without keys can be called. */
    enum Credentials {
        /** Nothing to send (the simulated provider). */
        NONE,
        /** The catalog's {@code api_keys}: a provider without keys is left out of every plan. */
        KEYS,
        /** The cloud's own credentials (AWS chain, Google ADC, Entra ID): no {@code api_keys} needed. */
        CLOUD
    }

    /** How a streamed answer is framed on the wire. */
    enum Framing {
        SSE("text/event-stream"),
        /** AWS's binary event-stream (length-prefixed frames with CRCs), as Bedrock's ConverseStream sends. */
        EVENT_STREAM("application/vnd.amazon.eventstream");

        private final String mediaType;

        Framing(String mediaType) {
            this.mediaType = mediaType;
        }

        /** The {@code Accept} of a streaming call. */
        public String mediaType() {
            return mediaType;
        }
    }

    /** The catalog's {@code api:} value, e.g. {@code openai}. */
    String api();

    /**
     * The Camel endpoint the deployment's calls go to, without options; for HTTP APIs the full URL
     * (Caravan adds timeouts and connection options).
     */
    String endpoint(ProviderSpec provider, DeploymentSpec deployment);

    /** Request headers for one call with one key, the provider's extra {@code headers} included. */
    Map<String, String> requestHeaders(ProviderSpec provider, String apiKey);

    /**
     * The authentication step: the headers of one call, seeing its final URL and body (a signing adapter signs
     * them; the body is not changed after this). By default the key-based {@link #requestHeaders(ProviderSpec,
     * String)}.
     */
    default Map<String, String> requestHeaders(UpstreamRequest request) {
        return requestHeaders(request.provider(), request.apiKey());
    }

    /**
     * The adapter that speaks this provider's dialect of the api (an OpenAI-compatible vendor's quirks); by
     * default this adapter. Callers use {@link ProviderAdapters#forProvider}.
     */
    default ProviderAdapter dialect(ProviderSpec provider) {
        return this;
    }

    /** What this provider authenticates with; may depend on its settings (Azure: a key or Entra ID). */
    default Credentials credentials(ProviderSpec provider) {
        return Credentials.KEYS;
    }

    /**
     * The base URL when the catalog gives none (e.g. built from the region), or null when {@code base_url} is
     * required.
     */
    default String defaultBaseUrl(ProviderSpec provider) {
        return null;
    }

    /** Whether the catalog must give a {@code base_url} for this provider. */
    default boolean requiresBaseUrl(ProviderSpec provider) {
        return defaultBaseUrl(provider) == null;
    }

    /** Problems with the provider's settings, one line each (a missing region, say); the catalog rejects them. */
    default List<String> problems(ProviderSpec provider) {
        return List.of();
    }

    /**
     * The public identity of the cloud credentials a keyless call uses (an AWS access key id, an Entra client id,
     * a service account's email), fingerprinted into the usage event's {@code key_id}; never a secret. Null when
     * there is none.
     */
    default String credentialIdentity(ProviderSpec provider) {
        return null;
    }

    /** The request body for this deployment. */
    byte[] requestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment);

    /**
     * Reads the provider's answer. Returns the reply for a success; throws a {@link ProviderError} carrying the
     * error class, the status and any server-given wait for everything else (malformed bodies included).
     *
     * @param headers the response headers, names in any case
     */
    ProviderReply readResponse(int status, Map<String, Object> headers, byte[] body, DeploymentSpec deployment);

    // ---- streaming (optional): an adapter that streams overrides streams() and openStream(), the rest if it must ----

    /** Whether this adapter can stream answers ({@code "stream": true} on the chat API). */
    default boolean streams() {
        return false;
    }

    /** How its streams are framed (read only when {@link #streams()}). */
    default Framing streamFraming() {
        return Framing.SSE;
    }

    /** The endpoint of a streaming call (Gemini has its own); by default the ordinary one. */
    default String streamEndpoint(ProviderSpec provider, DeploymentSpec deployment) {
        return endpoint(provider, deployment);
    }

    /**
     * The request body of a streaming call (asks the provider for usage in the stream where it must be asked); by
     * default the ordinary one (Gemini and Bedrock say "stream" in the URL).
     */
    default byte[] streamRequestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        return requestBody(request, provider, deployment);
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
