package io.caravan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckCommandTest {

    static final String SECRET = "sk-test-SECRET-123";
    static final String SECOND_SECRET = "sk-test-SECOND-456";
    static final String HEADER_SECRET = "hdr-SECRET-789";

    static final String CATALOG = """
            providers:
              moonshot:
                api: openai
                base_url: https://api.moonshot.ai/v1
                api_keys: ["${KIMI_API_KEY}", "${KIMI_API_KEY_2:-}"]
                headers: {X-Org-Token: "${ORG_TOKEN}"}
                rpm: 60
              qwen:
                api: openai
                base_url: https://dashscope-intl.aliyuncs.com/compatible-mode/v1
                api_keys: ["${DASHSCOPE_API_KEY}"]
                timeout: 2m
              sim:
                api: simulated
                latency: 20ms
                error_rate: 0.1
                auth_token: "${KIMI_API_KEY}"
            models:
              - name: kimi-k2
                provider: moonshot
                model: kimi-k2-0905-preview
                context_window: 262144
                price: {input: 0.60, cached_input: 0.15, output: 2.50}
              - name: qwen-max
                provider: qwen
                model: qwen-max
                context_window: 32768
                price: {input: 1.60, output: 6.40}
              - name: local
                provider: sim
                model: sim-small
                weight: 2
            fallbacks:
              local: [qwen-max]
              qwen-max: [kimi-k2]
            context_window_fallbacks:
              qwen-max: [kimi-k2]
            tiers:
              fast:     {model: local, max_score: 3.0}
              balanced: {model: qwen-max, max_score: 6.5}
              powerful: {model: kimi-k2}
            routing:
              keywords:
                powerful: [strategic, complex]
                fast: [quick, simple]
            budgets:
              tiers: {powerful: 200}
              on_exceed: downgrade
            """;

    @TempDir
    Path dir;

    final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    String out() {
        return outBytes.toString(StandardCharsets.UTF_8);
    }

    String err() {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    Path write(String yaml) throws IOException {
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, yaml);
        return file;
    }

    @Test
    void printsTheRoutingTableWithoutAnyKey() throws IOException {
        Path file = write(CATALOG);
        int status = CheckCommand.run(file, Map.of("KIMI_API_KEY", SECRET, "KIMI_API_KEY_2", SECOND_SECRET,
                "ORG_TOKEN", HEADER_SECRET), out, err);

        String text = out();
        assertThat(status).isZero();
        assertThat(err()).isEmpty();
        assertThat(text).contains("Catalog " + file + ": OK (3 providers, 3 groups, 3 deployments, 3 tiers)");
        // tiers, cheapest first, with their score bounds and the default
        assertThat(text).containsSubsequence("fast", "3.0", "local", "balanced", "6.5", "qwen-max", "(default)",
                "powerful", "-", "kimi-k2");
        assertThat(text).contains("default tier: balanced");
        // groups and deployments
        assertThat(text).contains("kimi-k2#0", "qwen-max#0", "local#0", "kimi-k2-0905-preview", "sim-small",
                "262144", "32768", "0.60 / 0.15 / 2.50", "1.60 / - / 6.40", "free");
        assertThat(text).containsPattern("local#0 +sim +sim-small +2 ");
        // chains, transitive
        assertThat(text).contains("fallbacks:       local -> qwen-max -> kimi-k2");
        assertThat(text).contains("fallbacks:       qwen-max -> kimi-k2");
        assertThat(text).contains("context window:  qwen-max -> kimi-k2");
        assertThat(text).contains("context window:  (none)");
        // keyword rules
        assertThat(text).containsPattern("powerful +strategic, complex");
        assertThat(text).containsPattern("fast +quick, simple");
        assertThat(text).contains("score weights: agent 0.6, task 0.4");
        // providers with key counts, never key values
        assertThat(text).containsPattern("moonshot +openai +https://api.moonshot.ai/v1 +2 keys +30s +2 +500ms +60 rpm");
        assertThat(text).containsPattern("qwen +openai +\\S+ +no keys +2m");
        assertThat(text).containsPattern("sim +simulated +\\(built in\\) +no keys \\(not needed\\)");
        assertThat(text).contains("headers: X-Org-Token", "latency=20ms", "auth_token=***");
        // each provider's key fingerprints, as the usage events name them (contract section 10)
        assertThat(text).containsPattern("moonshot +" + io.caravan.resilience.KeyPool.fingerprint(SECRET) + ", [0-9a-f]{12}");
        assertThat(text).contains("tier powerful", "200.00", "on exceed: downgrade");
        assertThat(text).contains("Warnings", "models[2] (local): no price");
        assertThat(text).doesNotContain(SECRET).doesNotContain(SECOND_SECRET).doesNotContain(HEADER_SECRET);
    }

    @Test
    void alignsColumns() throws IOException {
        CheckCommand.run(write(CATALOG), Map.of(), out, err);
        String[] lines = out().split("\n");
        int header = -1;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].trim().startsWith("tier ") && lines[i].contains("max_score")) {
                header = i;
                break;
            }
        }
        assertThat(header).isNotNegative();
        int groupColumn = lines[header].indexOf("group");
        assertThat(lines[header + 1].indexOf("local")).isEqualTo(groupColumn);
        assertThat(lines[header + 2].indexOf("qwen-max")).isEqualTo(groupColumn);
        assertThat(lines[header + 3].indexOf("kimi-k2")).isEqualTo(groupColumn);
        assertThat(out()).doesNotContain(" \n");
    }

    @Test
    void aBadCatalogPrintsOneLineToStderrAndExits2() throws IOException {
        Path file = write(CATALOG.replace("provider: qwen\n", "provider: qwen2\n"));
        int status = CheckCommand.run(file, Map.of("KIMI_API_KEY", SECRET), out, err);

        assertThat(status).isEqualTo(2);
        assertThat(out()).isEmpty();
        assertThat(err()).isEqualTo(file + ": models[1] (qwen-max): unknown provider 'qwen2'" + System.lineSeparator());
    }

    @Test
    void aFallbackCycleIsNamed() throws IOException {
        Path file = write(CATALOG.replace("qwen-max: [kimi-k2]\ncontext", "qwen-max: [local]\ncontext"));
        int status = CheckCommand.run(file, Map.of(), out, err);

        assertThat(status).isEqualTo(2);
        assertThat(err().strip()).isEqualTo(file + ": fallbacks: cycle local -> qwen-max -> local");
    }

    @Test
    void credentialsInABaseUrlAreMasked() throws IOException {
        int status = CheckCommand.run(write("""
                providers:
                  azure:
                    api: openai
                    base_url: https://res.example/openai?api-version=2024-10-21&api-key=${URL_KEY}
                    api_keys: ["k"]
                  gateway:
                    api: openai
                    base_url: https://caravan:${URL_PASSWORD}@gateway.example/v1
                    api_keys: ["k"]
                models:
                  - {name: a, provider: azure, model: a, price: {input: 1, output: 2}}
                  - {name: b, provider: gateway, model: b, price: {input: 1, output: 2}}
                """), Map.of("URL_KEY", "query-SECRET", "URL_PASSWORD", "userinfo-SECRET"), out, err);

        assertThat(status).isZero();
        assertThat(out()).contains("https://res.example/openai?api-version=2024-10-21&api-key=***",
                "https://caravan:***@gateway.example/v1");
        assertThat(out()).doesNotContain("SECRET");
    }

    @Test
    void aCatalogErrorNamingABaseUrlDoesNotQuoteItsCredentials() throws IOException {
        Path file = write(CATALOG.replace("base_url: https://api.moonshot.ai/v1",
                "base_url: ftp://kimi:${URL_PASSWORD}@api.moonshot.ai/v1?key=${URL_KEY}"));
        int status = CheckCommand.run(file, Map.of("URL_KEY", "query-SECRET", "URL_PASSWORD", "userinfo-SECRET"),
                out, err);

        assertThat(status).isEqualTo(2);
        assertThat(err()).contains("base_url must start with http:// or https://, got "
                + "'ftp://kimi:***@api.moonshot.ai/v1?key=***'").doesNotContain("SECRET");
    }

    @Test
    void usesTheProcessEnvironmentByDefault() throws IOException {
        int status = CheckCommand.run(write("""
                providers:
                  sim: {api: simulated}
                models:
                  - {name: a, provider: sim, model: a, price: {input: 1, output: 2}}
                """), out, err);
        assertThat(status).isZero();
        assertThat(out()).contains("a#0", "1.00 / - / 2.00").doesNotContain("Warnings");
    }
}
