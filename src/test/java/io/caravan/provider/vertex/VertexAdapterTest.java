package io.caravan.provider.vertex;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.Fixtures;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderAdapters;
import io.caravan.resilience.ErrorClass;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VertexAdapterTest {

    private final VertexAdapter adapter = new VertexAdapter();
    private final DeploymentSpec flash = Fixtures.deployment("gcp", "gemini-2.5-flash", 1024, new Price(0.3, 0.03, 2.5));

    private static ProviderSpec gcp(Map<String, Object> settings) {
        return new ProviderSpec("gcp", "vertex", null, List.of(), Map.of(), ProviderSpec.DEFAULT_TIMEOUT, 0,
                ProviderSpec.DEFAULT_BACKOFF, null, null, settings);
    }

    @Test
    void regionalAndGlobalUrlsFollowVertexShape() {
        assertThat(ProviderAdapters.forApi("vertex")).isInstanceOf(VertexAdapter.class);
        ProviderSpec regional = gcp(Map.of("project", "proj-1", "region", "europe-west4"));
        assertThat(adapter.endpoint(regional, flash)).isEqualTo("https://europe-west4-aiplatform.googleapis.com/v1/"
                + "projects/proj-1/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent");
        assertThat(adapter.streamEndpoint(regional, flash)).endsWith(
                "/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
        ProviderSpec global = gcp(Map.of("project", "proj-1", "region", "global"));
        assertThat(adapter.endpoint(global, flash)).startsWith(
                "https://aiplatform.googleapis.com/v1/projects/proj-1/locations/global/publishers/google/models/");
        assertThat(adapter.credentials(global)).isEqualTo(ProviderAdapter.Credentials.CLOUD);
    }

    @Test
    void projectAndRegionAreRequiredAndAKeyFileMustBeReadable() {
        assertThat(adapter.problems(gcp(Map.of()))).containsExactly("api vertex needs project",
                "api vertex needs region");
        assertThat(adapter.problems(gcp(Map.of("project", "p", "region", "us-central1",
                "credentials_file", "/nonexistent/sa.json"))))
                .containsExactly("credentials_file /nonexistent/sa.json is not a readable file");
    }

    /** Vertex's error bodies (google.rpc.Status), classified by the Gemini mapping the adapter reuses. */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', textBlock = """
            429 | RESOURCE_EXHAUSTED  | {"error":{"code":429,"message":"Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.","status":"RESOURCE_EXHAUSTED"}} | RATE_LIMITED
            403 | PERMISSION_DENIED   | {"error":{"code":403,"message":"Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash' (or it may not exist).","status":"PERMISSION_DENIED"}} | AUTH
            401 | UNAUTHENTICATED     | {"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","status":"UNAUTHENTICATED"}} | AUTH
            404 | NOT_FOUND           | {"error":{"code":404,"message":"Publisher Model `projects/proj-1/locations/us-central1/publishers/google/models/gemini-9` was not found or your project does not have access to it.","status":"NOT_FOUND"}} | MODEL_NOT_FOUND
            400 | INVALID_ARGUMENT    | {"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}} | CONTEXT_WINDOW
            400 | FAILED_PRECONDITION | {"error":{"code":400,"message":"Project proj-1 is not allowed to use Publisher Model ... billing is disabled.","status":"FAILED_PRECONDITION"}} | QUOTA_EXHAUSTED
            503 | UNAVAILABLE         | {"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}} | SERVER_ERROR
            """)
    void classifiesVertexErrors(int status, String what, String body, ErrorClass expected) {
        assertThat(Fixtures.failure(adapter, status, Map.of(), body, flash).errorClass()).as(what).isEqualTo(expected);
    }
}
