package io.caravan.provider.openai.dialect.mistral;

import static io.caravan.provider.Fixtures.failure;
import static io.caravan.provider.Fixtures.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.Fixtures;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderAdapters;
import io.caravan.resilience.ErrorClass;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The Mistral dialect: found by its api and by its host, its parameter names, its documented errors. */
class MistralDialectTest {

    private final ProviderSpec mistral = Fixtures.provider("mistral", "mistral", null);
    private final DeploymentSpec large = Fixtures.deployment("mistral", "mistral-large-latest", 4096,
            new Price(2.0, 0.2, 6.0));
    private final ProviderAdapter adapter = ProviderAdapters.forProvider(mistral);

    @Test
    void isFoundByItsApiAndByItsHostAndBuildsItsOwnUrl() {
        assertThat(adapter).isInstanceOf(MistralDialect.class);
        assertThat(ProviderAdapters.forProvider(Fixtures.provider("m", "openai", "https://api.mistral.ai/v1")))
                .isInstanceOf(MistralDialect.class);
        assertThat(adapter.requiresBaseUrl(mistral)).isFalse();
        assertThat(adapter.endpoint(mistral, large)).isEqualTo("https://api.mistral.ai/v1/chat/completions");
    }

    @Test
    void seedIsRandomSeedAndStreamOptionsAreNotSent() {
        var request = Fixtures.request("[{\"role\":\"user\",\"content\":\"hi\"}]",
                "{\"seed\":42,\"max_completion_tokens\":100,\"temperature\":0.3}");
        JsonNode body = json(adapter.requestBody(request, mistral, large));
        assertThat(body.path("random_seed").asInt()).isEqualTo(42);
        assertThat(body.path("max_tokens").asInt()).isEqualTo(100);
        assertThat(body.has("seed")).isFalse();
        assertThat(body.has("max_completion_tokens")).isFalse();
        JsonNode stream = json(adapter.streamRequestBody(request, mistral, large));
        assertThat(stream.path("stream").asBoolean()).isTrue();
        assertThat(stream.has("stream_options")).isFalse();
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', textBlock = """
            400 | context       | {"object":"error","message":"Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length","type":"invalid_request_error","param":null,"code":null} | CONTEXT_WINDOW
            429 | rate limit    | {"object":"error","message":"Requests rate limit exceeded","type":"rate_limited","param":null,"code":"1300"} | RATE_LIMITED
            429 | capacity      | {"object":"error","message":"Service tier capacity exceeded for this model.","type":"service_tier_capacity_exceeded","param":null,"code":"3505"} | RATE_LIMITED
            401 | bad key       | {"message":"Unauthorized","request_id":"4b6f0e5c"} | AUTH
            422 | extra field   | {"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","foo"],"msg":"Extra inputs are not permitted","input":1}]},"type":"invalid_request_message_error","param":null,"code":null} | BAD_REQUEST
            400 | unknown model | {"object":"error","message":"Invalid model: mistral-huge","type":"invalid_model","param":null,"code":"1500"} | MODEL_NOT_FOUND
            """)
    void classifiesMistralErrors(int status, String what, String body, ErrorClass expected) {
        assertThat(failure(adapter, status, Map.of(), body, large).errorClass()).as(what).isEqualTo(expected);
    }
}
