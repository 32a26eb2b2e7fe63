package io.caravan.provider.azure;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.provider.AdapterSupport;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Json;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Microsoft Entra ID access tokens by the OAuth2 client-credentials grant
 * ({@code POST {authority}/{tenant}/oauth2/v2.0/token}, scope {@code https://cognitiveservices.azure.com/.default}),
 * one per client, reused until shortly before it expires: {@link #MARGIN} before, or at half its life when it
 * lives shorter. Written against the endpoint rather than with azure-identity: MSAL insists on an https authority
 * (so no test can play the token endpoint on 127.0.0.1) and brings Reactor and an HTTP client of its own for one
 * form POST. The secret goes only into that POST's body; errors name the Entra error code, never the secret.
 */
final class EntraTokens {

    static final String DEFAULT_AUTHORITY = "https://login.microsoftonline.com";
    static final String SCOPE = "https://cognitiveservices.azure.com/.default";
    static final Duration MARGIN = Duration.ofMinutes(5);
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();

    record Client(String authority, String tenant, String clientId, String clientSecret) {
        @Override
        public String toString() {
            return "Client[" + tenant + ", " + clientId + "]"; // never the secret
        }
    }

    private record Token(String value, Instant refreshAt) {}

    private final Clock clock;
    private final Map<Client, Token> tokens = new ConcurrentHashMap<>();

    EntraTokens(Clock clock) {
        this.clock = clock;
    }

    /** A valid token for this client, fetched when there is none or the one held is due for refresh. */
    String token(Client client) {
        Token held = tokens.get(client);
        if (held != null && clock.instant().isBefore(held.refreshAt())) {
            return held.value();
        }
        synchronized (this) {
            held = tokens.get(client);
            if (held == null || !clock.instant().isBefore(held.refreshAt())) {
                held = fetch(client);
                tokens.put(client, held);
            }
            return held.value();
        }
    }

    private Token fetch(Client client) {
        String form = "grant_type=client_credentials&client_id=" + enc(client.clientId()) + "&client_secret="
                + enc(client.clientSecret()) + "&scope=" + enc(SCOPE);
        String authority = client.authority() == null ? DEFAULT_AUTHORITY : client.authority();
        while (authority.endsWith("/")) {
            authority = authority.substring(0, authority.length() - 1);
        }
        HttpRequest request = HttpRequest.newBuilder(URI.create(authority + "/" + enc(client.tenant())
                        + "/oauth2/v2.0/token"))
                .timeout(TIMEOUT)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form))
                .build();
        HttpResponse<byte[]> response;
        try {
            response = HTTP.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new ProviderError(ErrorClass.CONNECTION, null, "entra id token endpoint unreachable ("
                    + e.getClass().getSimpleName() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ProviderError(ErrorClass.CONNECTION, null, "entra id token request interrupted");
        }
        JsonNode body = AdapterSupport.parseOrNull(response.body());
        String token = body == null ? null : Json.textOrNull(body, "access_token");
        if (response.statusCode() != 200 || token == null) {
            // AADSTS codes ("invalid_client", "unauthorized_client") say what is wrong; the description may echo input
            String error = body == null ? null : Json.textOrNull(body, "error");
            ErrorClass cls = response.statusCode() >= 500 ? ErrorClass.SERVER_ERROR : ErrorClass.AUTH;
            throw new ProviderError(cls, response.statusCode(), "entra id token request failed: "
                    + (error == null ? "status " + response.statusCode() : error));
        }
        long lifetime = Math.max(0, Json.longOr(body, "expires_in", 3600));
        Duration early = MARGIN.compareTo(Duration.ofSeconds(lifetime / 2)) < 0 ? MARGIN
                : Duration.ofSeconds(lifetime / 2);
        return new Token(token, clock.instant().plusSeconds(lifetime).minus(early));
    }

    private static String enc(String s) {
        return URLEncoder.encode(s == null ? "" : s, StandardCharsets.UTF_8);
    }
}
