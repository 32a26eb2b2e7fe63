package io.caravan.provider.azure;

import static io.caravan.provider.ErrorRule.code;
import static io.caravan.resilience.ErrorClass.CONTENT_FILTERED;
import static io.caravan.resilience.ErrorClass.MODEL_NOT_FOUND;
import static io.caravan.resilience.ErrorClass.RATE_LIMITED;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.AdapterSupport;
import io.caravan.provider.ErrorRule;
import io.caravan.provider.openai.Dialect;
import io.caravan.provider.openai.OpenAiAdapter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code api: azure-openai}: Azure OpenAI, the OpenAI adapter's mapping with Azure's URLs, authentication and
 * errors. {@code base_url} is {@code https://{resource}.openai.azure.com} (or give {@code resource} and it is built).
 * The deployment's {@code model} is the Azure <em>deployment name</em>: with {@code api_version} (default
 * {@value #DEFAULT_API_VERSION}) calls go to {@code /openai/deployments/{model}/chat/completions?api-version=...};
 * with {@code api_version: v1} to the v1 API {@code /openai/v1/chat/completions}, the deployment name in the body.
 *
 * <p>Authentication: {@code api_keys} go in the {@code api-key} header; without keys, Entra ID (settings
 * {@code tenant_id}, {@code client_id}, {@code client_secret}, optional {@code authority_host}) gives a bearer token
 * by the client-credentials grant ({@link EntraTokens}); usage events then name the client id's fingerprint.
 *
 * <p>Errors: Azure's 429 carries {@code retry-after-ms} (read before {@code Retry-After}); a 400 whose code is
 * {@code content_filter} (the prompt tripped Azure's content filter) is {@code content_filtered}, which falls back
 * only along the catalog's {@code content_filter_fallbacks}; {@code DeploymentNotFound} is {@code model_not_found}.
 * An answer filtered after generation comes back as a success with {@code finish_reason: content_filter}.
 */
public class AzureOpenAiAdapter extends OpenAiAdapter {

    public static final String API = "azure-openai";
    static final String DEFAULT_API_VERSION = "2024-10-21";
    static final EntraTokens TOKENS = new EntraTokens(Clock.systemUTC());

    static final List<ErrorRule> RULES = List.of(
            code("content_filter", CONTENT_FILTERED),                     // 400 prompt filtered
            code("ResponsibleAIPolicyViolation", CONTENT_FILTERED),
            code("DeploymentNotFound", MODEL_NOT_FOUND),                  // 404
            code("429", RATE_LIMITED, 429));                              // "exceeded token rate limit of your ... tier"

    public AzureOpenAiAdapter() {
        super(new Dialect(API, null, Set.of(), RULES, null));
    }

    @Override
    public String defaultBaseUrl(ProviderSpec provider) {
        String resource = provider.setting("resource", null);
        return resource == null ? null : "https://" + resource + ".openai.azure.com";
    }

    @Override
    public boolean requiresBaseUrl(ProviderSpec provider) {
        return false; // problems() names what is missing
    }

    /**
     * Keys when it has them; Entra ID when any Entra setting is given (problems() names what else it needs); else a
     * key provider without keys, left out of plans with a warning like any other.
     */
    @Override
    public Credentials credentials(ProviderSpec provider) {
        return provider.apiKeys().isEmpty() && !entraMissing(provider).equals(ENTRA) ? Credentials.CLOUD
                : Credentials.KEYS;
    }

    static final List<String> ENTRA = List.of("tenant_id", "client_id", "client_secret");

    private static List<String> entraMissing(ProviderSpec provider) {
        List<String> missing = new ArrayList<>();
        for (String s : ENTRA) {
            String v = provider.setting(s, null);
            if (v == null || v.isBlank()) {
                missing.add(s);
            }
        }
        return missing;
    }

    @Override
    public List<String> problems(ProviderSpec provider) {
        List<String> problems = new ArrayList<>();
        if (provider.baseUrl() == null && defaultBaseUrl(provider) == null) {
            problems.add("api azure-openai needs base_url (https://RESOURCE.openai.azure.com) or resource");
        }
        List<String> missing = entraMissing(provider);
        if (provider.apiKeys().isEmpty() && !missing.isEmpty() && !missing.equals(ENTRA)) {
            problems.add("Entra ID needs tenant_id, client_id and client_secret (missing "
                    + String.join(", ", missing) + ")");
        }
        return problems;
    }

    @Override
    public String credentialIdentity(ProviderSpec provider) {
        return provider.apiKeys().isEmpty() ? provider.setting("client_id", null) : null;
    }

    @Override
    public String endpoint(ProviderSpec provider, DeploymentSpec deployment) {
        String base = AdapterSupport.baseUrl(provider, defaultBaseUrl(provider));
        if (base.endsWith("/openai")) {
            base = base.substring(0, base.length() - 7);
        }
        String version = provider.setting("api_version", DEFAULT_API_VERSION);
        if ("v1".equals(version)) {
            return base + "/openai/v1/chat/completions";
        }
        return base + "/openai/deployments/" + URLEncoder.encode(deployment.model(), StandardCharsets.UTF_8)
                .replace("+", "%20") + "/chat/completions?api-version=" + URLEncoder.encode(version,
                StandardCharsets.UTF_8);
    }

    @Override
    public Map<String, String> requestHeaders(ProviderSpec provider, String apiKey) {
        if (apiKey != null) {
            return AdapterSupport.jsonHeaders(provider, "api-key", apiKey);
        }
        return AdapterSupport.jsonHeaders(provider, "Authorization", "Bearer " + TOKENS.token(new EntraTokens.Client(
                provider.setting("authority_host", null), provider.setting("tenant_id", null),
                provider.setting("client_id", null), provider.setting("client_secret", null))));
    }
}
