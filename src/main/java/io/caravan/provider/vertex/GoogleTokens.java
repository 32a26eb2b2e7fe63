package io.caravan.provider.vertex;

import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.ServiceAccountCredentials;
import com.google.auth.oauth2.UserCredentials;
import io.caravan.catalog.ProviderSpec;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Google OAuth2 access tokens from Google's auth library: the provider's {@code credentials_file} (a service-account
 * key file) or else application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's login, the metadata
 * server). The library refreshes a token before it expires ({@code getRequestMetadata} fetches a new one inside its
 * expiry margin); one credentials object per provider, kept for the process.
 */
final class GoogleTokens {

    static final String SCOPE = "https://www.googleapis.com/auth/cloud-platform";

    private static final Map<String, GoogleCredentials> CREDENTIALS = new ConcurrentHashMap<>();

    private GoogleTokens() {}

    /** {@code Authorization: Bearer ...} for a call to {@code url}. */
    static String authorization(ProviderSpec provider, String url) {
        try {
            Map<String, List<String>> metadata = credentials(provider).getRequestMetadata(URI.create(url));
            List<String> values = metadata.get("Authorization");
            if (values == null || values.isEmpty()) {
                throw new ProviderError(ErrorClass.AUTH, null, "google credentials gave no access token");
            }
            return values.get(0);
        } catch (IOException e) {
            // the library's message names the token endpoint's error ("invalid_grant"), not the key
            throw new ProviderError(ErrorClass.AUTH, null, "google access token refresh failed ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    /** The credentials' public identity: a service account's email or a user's OAuth client id. */
    static String identity(ProviderSpec provider) {
        try {
            GoogleCredentials c = credentials(provider);
            if (c instanceof ServiceAccountCredentials sa) {
                return sa.getClientEmail();
            }
            if (c instanceof UserCredentials user) {
                return user.getClientId();
            }
            return null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static GoogleCredentials credentials(ProviderSpec provider) {
        String file = provider.setting("credentials_file", null);
        return CREDENTIALS.computeIfAbsent(provider.name() + "|" + file, k -> load(file));
    }

    private static GoogleCredentials load(String file) {
        try {
            if (file == null || file.isBlank()) {
                return GoogleCredentials.getApplicationDefault().createScoped(SCOPE);
            }
            try (InputStream in = Files.newInputStream(Path.of(file))) {
                return GoogleCredentials.fromStream(in).createScoped(SCOPE);
            }
        } catch (IOException e) {
            throw new ProviderError(ErrorClass.AUTH, null, "google credentials not found or unreadable ("
                    + e.getClass().getSimpleName() + ")");
        }
    }
}
