package io.caravan.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.catalog.ProviderSpec;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code gen_ai.provider.name}: the convention's well-known value where the api or host names one, ours otherwise. */
class GenAiProviderNameTest {

    static String nameOf(String name, String api, String baseUrl) {
        ProviderSpec spec = new ProviderSpec(name, api, baseUrl, List.of(), Map.of(), Duration.ofSeconds(1), 0,
                Duration.ZERO, null, null, Map.of());
        return GenAiCall.providerName(name, spec, GenAiCall.baseUri(spec));
    }

    @Test
    void wellKnownProvidersGetTheConventionsNames() {
        assertThat(nameOf("oa", "openai", "https://api.openai.com/v1")).isEqualTo("openai");
        assertThat(nameOf("claude", "anthropic", "https://api.anthropic.com/v1")).isEqualTo("anthropic");
        assertThat(nameOf("g", "gemini", "https://generativelanguage.googleapis.com/v1beta")).isEqualTo("gcp.gemini");
        assertThat(nameOf("ds", "openai", "https://api.deepseek.com/v1")).isEqualTo("deepseek");
        assertThat(nameOf("az", "openai", "https://acme.openai.azure.com/openai/v1")).isEqualTo("azure.ai.openai");
        assertThat(nameOf("vx", "openai",
                "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/l/endpoints/openapi"))
                .isEqualTo("gcp.vertex_ai");
        assertThat(nameOf("br", "openai", "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1"))
                .isEqualTo("aws.bedrock");
    }

    @Test
    void otherProvidersKeepTheCatalogsName() {
        assertThat(nameOf("kimi", "openai", "https://api.moonshot.ai/v1")).isEqualTo("kimi");
        assertThat(nameOf("local", "openai", "http://127.0.0.1:8000/v1")).isEqualTo("local");
        assertThat(nameOf("sim", "simulated", null)).isEqualTo("sim");
    }
}
