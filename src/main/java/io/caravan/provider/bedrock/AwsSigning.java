package io.caravan.provider.bedrock;

import io.caravan.catalog.ProviderSpec;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import software.amazon.awssdk.core.exception.SdkClientException;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.SdkHttpFullRequest;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;

/**
 * SigV4 for Bedrock with the AWS SDK's own signer ({@link AwsV4HttpSigner}) over the exact URL and body of the
 * call, with credentials from the SDK's default chain (system properties, environment, web identity, the
 * {@code profile} setting's profile, container and instance roles). The chain caches and refreshes what it finds
 * itself; one chain per provider, kept for the process (the catalog names a handful of providers).
 */
final class AwsSigning {

    static final String SERVICE = "bedrock";

    private static final AwsV4HttpSigner SIGNER = AwsV4HttpSigner.create();
    private static final Map<String, AwsCredentialsProvider> CHAINS = new ConcurrentHashMap<>();

    private AwsSigning() {}

    /** The chain's credentials; none found is an {@code auth} failure of the attempt (its next candidate is tried). */
    static AwsCredentialsIdentity credentials(ProviderSpec provider) {
        try {
            return chain(provider).resolveCredentials();
        } catch (SdkClientException e) {
            throw new ProviderError(ErrorClass.AUTH, null, "no AWS credentials for provider " + provider.name()
                    + " (the default chain found none: environment, profile, web identity, container or instance role)");
        }
    }

    private static AwsCredentialsProvider chain(ProviderSpec provider) {
        String profile = provider.setting("profile", null);
        return CHAINS.computeIfAbsent(provider.name() + "|" + profile, k -> {
            DefaultCredentialsProvider.Builder builder = DefaultCredentialsProvider.builder();
            if (profile != null) {
                builder.profileName(profile);
            }
            return builder.build();
        });
    }

    /**
     * The headers that sign this POST ({@code Authorization}, {@code X-Amz-Date}, {@code X-Amz-Security-Token} for
     * temporary credentials), besides {@code headers}, which are signed too. {@code Host} is left to the HTTP
     * client, which sends the URL's authority, the value signed.
     */
    static Map<String, String> sign(String url, byte[] body, Map<String, String> headers, String region,
            AwsCredentialsIdentity credentials) {
        SdkHttpFullRequest.Builder request = SdkHttpFullRequest.builder()
                .method(SdkHttpMethod.POST)
                .uri(URI.create(url));
        headers.forEach(request::putHeader);
        SignedRequest signed = SIGNER.sign(r -> r
                .identity(credentials)
                .request(request.build())
                .payload(ContentStreamProvider.fromByteArray(body))
                .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, SERVICE)
                .putProperty(AwsV4HttpSigner.REGION_NAME, region));
        Map<String, String> out = new LinkedHashMap<>();
        signed.request().headers().forEach((name, values) -> {
            if (!name.equalsIgnoreCase("Host") && !values.isEmpty()) {
                out.put(name, String.join(",", values));
            }
        });
        return out;
    }

    /** Names the chain's credentials for usage events: the access key id (public), never the secret. */
    static String identity(ProviderSpec provider) {
        try {
            return credentials(provider).accessKeyId();
        } catch (RuntimeException e) {
            return null;
        }
    }
}
