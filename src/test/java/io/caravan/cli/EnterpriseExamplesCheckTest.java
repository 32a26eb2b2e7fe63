package io.caravan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The enterprise examples pass {@code caravan check} with their credentials set, show the URLs their adapters build,
 * say which providers need no keys, and print no secret.
 */
class EnterpriseExamplesCheckTest {

    static final Map<String, String> ENV = Map.of(
            "AZURE_OPENAI_API_KEY", "azure-example-key-0001",
            "AZURE_TENANT_ID", "11111111-2222-3333-4444-555555555555",
            "AZURE_CLIENT_ID", "66666666-7777-8888-9999-000000000000",
            "AZURE_CLIENT_SECRET", "entra-example-secret-0001",
            "KIMI_API_KEY", "sk-example-kimi-0001",
            "AWS_REGION", "eu-central-1",
            "GOOGLE_CLOUD_PROJECT", "acme-prod");

    static String check(String example) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = CheckCommand.run(Path.of("examples", example), ENV, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String printed = out.toString(StandardCharsets.UTF_8);
        assertThat(status).as(err.toString(StandardCharsets.UTF_8)).isZero();
        for (String secret : new String[] {"azure-example-key-0001", "entra-example-secret-0001", "sk-example-kimi-0001"}) {
            assertThat(printed).doesNotContain(secret);
        }
        assertThat(printed).doesNotContain("Warnings"); // every provider has what it needs
        return printed;
    }

    @Test
    void azureOpenAi() {
        String printed = check("azure-openai.yaml");
        assertThat(printed).contains("https://contoso-eastus.openai.azure.com", "cloud credentials",
                "content filter:  gpt-4o -> gpt-4o-lenient", "client_secret=***");
    }

    @Test
    void bedrockClaudeFallingBackToKimi() {
        String printed = check("bedrock-claude-fallback-to-kimi.yaml");
        assertThat(printed).contains("https://bedrock-runtime.eu-central-1.amazonaws.com", "cloud credentials",
                "https://api.moonshot.ai/v1", "claude -> kimi-k2");
    }

    @Test
    void vertexGemini() {
        String printed = check("vertex-gemini.yaml");
        assertThat(printed).contains("https://europe-west4-aiplatform.googleapis.com",
                "https://aiplatform.googleapis.com", "cloud credentials", "flash -> pro");
    }
}
