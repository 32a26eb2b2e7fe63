package io.caravan.provider.azure;

import static io.caravan.provider.Fixtures.failure;
import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.Fixtures;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderAdapters;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AzureOpenAiAdapterTest {

    private final AzureOpenAiAdapter adapter = new AzureOpenAiAdapter();
    private final DeploymentSpec prod = Fixtures.deployment("azure", "gpt-4o-prod", 4096, new Price(2.5, 1.25, 10));

    private static ProviderSpec azure(String baseUrl, List<String> keys, Map<String, Object> settings) {
        return new ProviderSpec("azure", "azure-openai", baseUrl, keys, Map.of(), ProviderSpec.DEFAULT_TIMEOUT, 0,
                ProviderSpec.DEFAULT_BACKOFF, null, null, settings);
    }

    @Test
    void deploymentUrlsCarryTheApiVersionAndTheV1ApiHasNone() {
        assertThat(ProviderAdapters.forApi("azure-openai")).isInstanceOf(AzureOpenAiAdapter.class);
        ProviderSpec byResource = azure(null, List.of("k"), Map.of("resource", "contoso-eastus"));
        assertThat(adapter.endpoint(byResource, prod)).isEqualTo(
                "https://contoso-eastus.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21");
        ProviderSpec v1 = azure("https://contoso.openai.azure.com/openai/", List.of("k"), Map.of("api_version", "v1"));
        assertThat(adapter.endpoint(v1, prod)).isEqualTo("https://contoso.openai.azure.com/openai/v1/chat/completions");
        ProviderSpec pinned = azure("https://contoso.openai.azure.com", List.of("k"),
                Map.of("api_version", "2025-04-01-preview"));
        assertThat(adapter.endpoint(pinned, prod)).endsWith("?api-version=2025-04-01-preview");
    }

    @Test
    void aKeyGoesInTheApiKeyHeaderNotAuthorization() {
        Map<String, String> headers = adapter.requestHeaders(azure("https://c.openai.azure.com",
                List.of(Fixtures.KEY), Map.of()), Fixtures.KEY);
        assertThat(headers).containsEntry("api-key", Fixtures.KEY).doesNotContainKey("Authorization");
        assertThat(adapter.credentials(azure("https://c.openai.azure.com", List.of("k"), Map.of())))
                .isEqualTo(ProviderAdapter.Credentials.KEYS);
    }

    @Test
    void withoutKeysEntraIdSettingsMakeItACloudProviderAndPartialOnesAreNamed() {
        ProviderSpec entra = azure("https://c.openai.azure.com", List.of(),
                Map.of("tenant_id", "t", "client_id", "c", "client_secret", "s"));
        assertThat(adapter.credentials(entra)).isEqualTo(ProviderAdapter.Credentials.CLOUD);
        assertThat(adapter.problems(entra)).isEmpty();
        assertThat(adapter.credentialIdentity(entra)).isEqualTo("c");
        assertThat(adapter.problems(azure(null, List.of(), Map.of("tenant_id", "t")))).containsExactly(
                "api azure-openai needs base_url (https://RESOURCE.openai.azure.com) or resource",
                "Entra ID needs tenant_id, client_id and client_secret (missing client_id, client_secret)");
        // neither keys nor Entra ID: a key provider without keys (warned about, left out of plans), not an error
        ProviderSpec bare = azure("https://c.openai.azure.com", List.of(), Map.of());
        assertThat(adapter.credentials(bare)).isEqualTo(ProviderAdapter.Credentials.KEYS);
        assertThat(adapter.problems(bare)).isEmpty();
    }

    /** Error bodies as Azure OpenAI sends them. */
    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', textBlock = """
            400 | prompt filtered | {"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}}} | CONTENT_FILTERED
            429 | token rate      | {"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."}} | RATE_LIMITED
            401 | bad key         | {"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}} | AUTH
            401 | bad token       | {"error":{"code":"PermissionDenied","message":"Principal does not have access to API/Operation."}} | AUTH
            404 | no deployment   | {"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}} | MODEL_NOT_FOUND
            400 | context         | {"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}} | CONTEXT_WINDOW
            400 | bad param       | {"error":{"message":"Unrecognized request argument supplied: foo","type":"invalid_request_error","param":null,"code":null}} | BAD_REQUEST
            500 | server          | {"error":{"code":"InternalServerError","message":"The server had an error while processing your request. Sorry about that!"}} | SERVER_ERROR
            """)
    void classifiesAzureErrors(int status, String what, String body, ErrorClass expected) {
        ProviderError e = failure(adapter, status, Map.of(), body, prod);
        assertThat(e.errorClass()).as(what).isEqualTo(expected);
        assertThat(e.getMessage()).startsWith("azure-openai " + status);
    }

    @Test
    void retryAfterMsIsTheWaitOfA429() {
        ProviderError e = failure(adapter, 429, Map.of("retry-after-ms", "1500", "Retry-After", "2"),
                "{\"error\":{\"code\":\"429\",\"message\":\"Rate limit is exceeded. Try again in 2 seconds.\"}}", prod);
        assertThat(e.errorClass()).isEqualTo(ErrorClass.RATE_LIMITED);
        assertThat(e.retryAfter()).isEqualTo(Duration.ofMillis(1500));
    }
}
