package io.caravan.provider.vertex;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.AdapterSupport;
import io.caravan.provider.UpstreamRequest;
import io.caravan.provider.gemini.GeminiAdapter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code api: vertex}: Gemini on Google Cloud Vertex AI, the Gemini adapter's mapping (requests, answers, streams,
 * errors) at Vertex's URL with an OAuth2 token. Settings: {@code project} and {@code region} (e.g.
 * {@code us-central1}, or {@code global}) are required; {@code credentials_file} names a service-account key file,
 * else application default credentials are used ({@link GoogleTokens}). {@code base_url} defaults to
 * {@code https://{region}-aiplatform.googleapis.com} ({@code https://aiplatform.googleapis.com} for global); calls
 * go to {@code /v1/projects/{project}/locations/{region}/publishers/google/models/{model}:generateContent}
 * ({@code :streamGenerateContent?alt=sse} when streaming). Usage events name the service account's email by its
 * fingerprint.
 */
public class VertexAdapter extends GeminiAdapter {

    public static final String API = "vertex";

    @Override
    public String api() {
        return API;
    }

    @Override
    public Credentials credentials(ProviderSpec provider) {
        return Credentials.CLOUD;
    }

    @Override
    public String defaultBaseUrl(ProviderSpec provider) {
        String region = provider.setting("region", null);
        if (region == null) {
            return null;
        }
        return "global".equals(region) ? "https://aiplatform.googleapis.com"
                : "https://" + region + "-aiplatform.googleapis.com";
    }

    @Override
    public boolean requiresBaseUrl(ProviderSpec provider) {
        return false; // built from the region, whose absence problems() reports
    }

    @Override
    public List<String> problems(ProviderSpec provider) {
        List<String> problems = new ArrayList<>();
        for (String required : List.of("project", "region")) {
            String v = provider.setting(required, null);
            if (v == null || v.isBlank()) {
                problems.add("api vertex needs " + required);
            }
        }
        String file = provider.setting("credentials_file", null);
        if (file != null && !Files.isReadable(Path.of(file))) {
            problems.add("credentials_file " + file + " is not a readable file");
        }
        return problems;
    }

    @Override
    public String credentialIdentity(ProviderSpec provider) {
        return GoogleTokens.identity(provider);
    }

    @Override
    public String endpoint(ProviderSpec provider, DeploymentSpec deployment) {
        String model = deployment.model().startsWith("models/") ? deployment.model().substring(7) : deployment.model();
        String region = provider.setting("region", null);
        return AdapterSupport.baseUrl(provider, defaultBaseUrl(provider)) + "/v1/projects/"
                + provider.setting("project", null) + "/locations/" + region + "/publishers/google/models/" + model
                + ":generateContent";
    }

    @Override
    public Map<String, String> requestHeaders(ProviderSpec provider, String apiKey) {
        return AdapterSupport.jsonHeaders(provider);
    }

    /** A bearer token from Google's auth library, refreshed by it before it expires. */
    @Override
    public Map<String, String> requestHeaders(UpstreamRequest request) {
        Map<String, String> own = new LinkedHashMap<>();
        own.put("Content-Type", "application/json");
        own.put("Accept", "application/json");
        own.put("Authorization", GoogleTokens.authorization(request.provider(), request.url()));
        return AdapterSupport.headers(request.provider(), own);
    }
}
