package io.caravan.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.caravan.provider.ProviderAdapters;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Each bad catalog must fail with exactly one line: file, entry, problem. */
class CatalogValidationTest {

    static final String PROVIDERS = """
            providers:
              moonshot: {api: openai, base_url: "https://api.moonshot.ai/v1", api_keys: ["${KIMI_API_KEY}"]}
              sim: {api: simulated}
            """;

    static final String MODELS = """
            models:
              - {name: kimi-k2, provider: moonshot, model: kimi-k2-0905-preview}
              - {name: small, provider: sim, model: s}
              - {name: other, provider: sim, model: o}
            """;

    static final String OK = PROVIDERS + MODELS;

    @TempDir
    Path dir;

    static Stream<Arguments> badCatalogs() {
        return Stream.of(
                Arguments.of("not a mapping", "just some text\n",
                        "document: not a mapping (expected providers:, models:, ...)"),
                Arguments.of("a list", "- a\n- b\n",
                        "document: not a mapping (expected providers:, models:, ...)"),
                Arguments.of("empty file", "",
                        "document: empty file (expected a mapping with providers: and models:)"),
                Arguments.of("missing providers", MODELS,
                        "providers: missing (at least one provider is needed)"),
                Arguments.of("missing models", PROVIDERS,
                        "models: missing (at least one deployment is needed)"),
                Arguments.of("models not a list", PROVIDERS + "models: {a: b}\n",
                        "models: must be a list of deployments"),
                Arguments.of("unknown api", """
                        providers:
                          p: {api: soap, base_url: "https://x.test"}
                        """ + MODELS,
                        "providers.p: unknown api 'soap' (expected one of " + String.join(", ", ProviderAdapters.apis()) + ")"),
                Arguments.of("missing api", """
                        providers:
                          p: {base_url: "https://x.test"}
                        """ + MODELS,
                        "providers.p: missing api (" + String.join(" | ", ProviderAdapters.apis()) + ")"),
                Arguments.of("missing base_url", """
                        providers:
                          moonshot: {api: openai, api_keys: ["k"]}
                        """ + MODELS,
                        "providers.moonshot: missing base_url"),
                Arguments.of("base_url from an unset variable", """
                        providers:
                          moonshot: {api: openai, base_url: "${UNSET_URL}"}
                        """ + MODELS,
                        "providers.moonshot: missing base_url"),
                Arguments.of("base_url not http", """
                        providers:
                          moonshot: {api: openai, base_url: "api.moonshot.ai/v1"}
                        """ + MODELS,
                        "providers.moonshot: base_url must start with http:// or https://, got 'api.moonshot.ai/v1'"),
                Arguments.of("deployment without name", PROVIDERS + """
                        models:
                          - {name: a, provider: sim, model: a}
                          - {provider: sim, model: b}
                        """,
                        "models[1]: missing name"),
                Arguments.of("deployment without provider", PROVIDERS + """
                        models:
                          - {name: a, model: a}
                        """,
                        "models[0] (a): missing provider"),
                Arguments.of("deployment without model", PROVIDERS + """
                        models:
                          - {name: a, provider: sim}
                        """,
                        "models[0] (a): missing model (the provider's own model id)"),
                Arguments.of("unknown provider", PROVIDERS + """
                        models:
                          - {name: kimi-k2, provider: moonshot, model: k}
                          - {name: small, provider: sim, model: s}
                          - {name: qwen-max, provider: qwen, model: qwen-max}
                        """,
                        "models[2] (qwen-max): unknown provider 'qwen'"),
                Arguments.of("reserved group name", PROVIDERS + """
                        models:
                          - {name: auto, provider: sim, model: s}
                        """,
                        "models[0] (auto): name 'auto' is reserved (tasks use it to ask for routing)"),
                Arguments.of("fallback to unknown group", OK + """
                        fallbacks:
                          kimi-k2: [small, qwen-max]
                        """,
                        "fallbacks.kimi-k2: unknown group 'qwen-max'"),
                Arguments.of("fallback from unknown group", OK + """
                        fallbacks:
                          qwen-max: [small]
                        """,
                        "fallbacks: unknown group 'qwen-max'"),
                Arguments.of("context-window fallback to unknown group", OK + """
                        context_window_fallbacks:
                          small: [big]
                        """,
                        "context_window_fallbacks.small: unknown group 'big'"),
                Arguments.of("fallback cycle", OK + """
                        fallbacks:
                          kimi-k2: [small]
                          small: [other]
                          other: [kimi-k2]
                        """,
                        "fallbacks: cycle kimi-k2 -> small -> other -> kimi-k2"),
                Arguments.of("fallback cycle not at the start", OK + """
                        fallbacks:
                          kimi-k2: [small]
                          small: [other]
                          other: [small]
                        """,
                        "fallbacks: cycle small -> other -> small"),
                Arguments.of("context-window self cycle", OK + """
                        context_window_fallbacks:
                          small: [small]
                        """,
                        "context_window_fallbacks: cycle small -> small"),
                Arguments.of("tier without group", OK + """
                        tiers:
                          fast: {max_score: 3}
                        """,
                        "tiers.fast: tier without group (no 'model')"),
                Arguments.of("tier naming an unknown group", OK + """
                        tiers:
                          fast: {model: small, max_score: 3}
                          powerful: {model: kimi-k3}
                        """,
                        "tiers.powerful: unknown group 'kimi-k3'"),
                Arguments.of("tier scores not increasing", OK + """
                        tiers:
                          fast: {model: small, max_score: 5}
                          balanced: {model: kimi-k2, max_score: 4}
                        """,
                        "tiers.balanced: max_score 4.0 must be above the cheaper tier fast's 5.0 (tiers go cheapest first)"),
                Arguments.of("default tier naming no tier", OK + """
                        tiers:
                          fast: {model: small}
                        default_tier: balanced
                        """,
                        "default_tier: unknown tier 'balanced'"),
                Arguments.of("keywords naming an unknown tier", OK + """
                        tiers:
                          fast: {model: small}
                        routing:
                          keywords:
                            fast: [quick]
                            powerful: [strategic]
                        """,
                        "routing.keywords: unknown tier 'powerful'"),
                Arguments.of("bad duration", """
                        providers:
                          moonshot: {api: openai, base_url: "https://x.test/v1", timeout: soon}
                        """ + MODELS.replace(", provider: sim", ", provider: moonshot"),
                        "providers.moonshot: timeout: bad duration 'soon' (expected e.g. 500ms, 30s, 2m, 1h)"),
                Arguments.of("bad open_for", OK + """
                        circuit_breaker: {open_for: 3 days}
                        """,
                        "circuit_breaker: open_for: bad duration '3 days' (expected e.g. 500ms, 30s, 2m, 1h)"),
                Arguments.of("negative backoff", """
                        providers:
                          sim: {api: simulated, backoff: -1s}
                        models:
                          - {name: a, provider: sim, model: a}
                        """,
                        "providers.sim: backoff: must not be negative, got '-1s'"),
                Arguments.of("negative retries", """
                        providers:
                          sim: {api: simulated, retries: -1}
                        models:
                          - {name: a, provider: sim, model: a}
                        """,
                        "providers.sim: retries: must not be negative, got -1"),
                Arguments.of("negative weight", PROVIDERS + """
                        models:
                          - {name: a, provider: sim, model: a, weight: -2}
                        """,
                        "models[0] (a): weight: must not be negative, got -2"),
                Arguments.of("zero weight", PROVIDERS + """
                        models:
                          - {name: a, provider: sim, model: a, weight: 0}
                        """,
                        "models[0] (a): weight must be at least 1, got 0"),
                Arguments.of("negative context window", PROVIDERS + """
                        models:
                          - {name: a, provider: sim, model: a, context_window: -8}
                        """,
                        "models[0] (a): context_window: must not be negative, got -8"),
                Arguments.of("negative price", PROVIDERS + """
                        models:
                          - {name: a, provider: sim, model: a, price: {input: -0.5, output: 1}}
                        """,
                        "models[0] (a).price: input: must not be negative, got -0.5"),
                Arguments.of("misspelt price field", PROVIDERS + """
                        models:
                          - {name: a, provider: sim, model: a, price: {input: 1, ouput: 2}}
                        """,
                        "models[0] (a).price: unknown field 'ouput' (expected input, cached_input, output, batch_input, batch_cached_input, batch_output)"),
                Arguments.of("not a number", """
                        providers:
                          sim: {api: simulated, rpm: lots}
                        models:
                          - {name: a, provider: sim, model: a}
                        """,
                        "providers.sim: rpm: not a number: 'lots'"),
                Arguments.of("answer bound of zero", """
                        providers:
                          sim: {api: simulated, max_response_bytes: 0}
                        models:
                          - {name: a, provider: sim, model: a}
                        """,
                        "providers.sim: max_response_bytes: must be greater than 0"),
                Arguments.of("answer bound not whole", """
                        providers:
                          sim: {api: simulated, max_response_bytes: 1.5}
                        models:
                          - {name: a, provider: sim, model: a}
                        """,
                        "providers.sim: max_response_bytes: must be a whole number of bytes, got 1.5"),
                Arguments.of("negative budget", OK + """
                        budgets: {tenants: {acme: -5}}
                        """,
                        "budgets.tenants: acme: must not be negative, got -5"),
                Arguments.of("budget for an unknown tier", OK + """
                        tiers: {fast: {model: small}}
                        budgets: {tiers: {powerful: 200}}
                        """,
                        "budgets.tiers: unknown tier 'powerful'"),
                Arguments.of("bad on_exceed", OK + """
                        budgets: {on_exceed: panic}
                        """,
                        "budgets.on_exceed: must be downgrade or reject, got 'panic'"),
                Arguments.of("failure rate over 100", OK + """
                        circuit_breaker: {failure_rate: 150}
                        """,
                        "circuit_breaker: failure_rate must be a percentage above 0 and at most 100, got 150.0"),
                Arguments.of("duplicate key", """
                        providers:
                          sim: {api: simulated}
                          sim: {api: openai}
                        """ + MODELS,
                        null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badCatalogs")
    void rejectsWithOneLineNamingFileEntryAndProblem(String name, String yaml, String expected) throws IOException {
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, yaml);

        CatalogException e = catchThrowableOfType(CatalogException.class,
                () -> CatalogLoader.load(file, Map.of("KIMI_API_KEY", "sk-test-SECRET-123")));

        assertThat(e).as(name).isNotNull();
        assertThat(e.getMessage()).doesNotContain("\n").doesNotContain("\r").doesNotContain("sk-test-SECRET-123");
        if (expected != null) {
            assertThat(e.getMessage()).isEqualTo(file + ": " + expected);
        } else {
            assertThat(e.getMessage()).startsWith(file + ": document: not valid YAML at line ");
        }
    }

    @Test
    void reportsBrokenYamlWithItsPositionButNotTheLine() throws IOException {
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, "providers:\n  p: [unclosed\n  api_key: sk-LITERAL-1\nmodels: x\n");
        CatalogException e = catchThrowableOfType(CatalogException.class, () -> CatalogLoader.load(file, Map.of()));
        assertThat(e.getMessage()).isEqualTo(file + ": document: not valid YAML at line 3, column 10: "
                + "expected ',' or ']', but got : (while parsing a flow sequence at line 2, column 6)");
    }

    @Test
    void reportsAMissingFile() {
        Path file = dir.resolve("nope.yaml");
        CatalogException e = catchThrowableOfType(CatalogException.class, () -> CatalogLoader.load(file, Map.of()));
        assertThat(e.getMessage()).isEqualTo(file + ": file: not found");
    }

    @Test
    void aMissingPriceIsOnlyAWarning() throws IOException {
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, OK);
        java.util.List<String> warnings = new java.util.ArrayList<>();
        Catalog c = CatalogLoader.load(file, Map.of(), warnings::add);
        assertThat(c.group("small").get(0).price()).isEqualTo(Price.FREE);
        assertThat(warnings).contains(file + ": models[1] (small): no price, deployment small#0 is counted as free");
    }

    @Test
    void aProvidersAnswerBoundIsReadWhenGiven() throws IOException {
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, """
                providers:
                  big: {api: simulated, max_response_bytes: 33554432}
                  sim: {api: simulated}
                models:
                  - {name: a, provider: big, model: a}
                  - {name: b, provider: sim, model: b}
                """);
        Catalog c = CatalogLoader.load(file, Map.of());
        assertThat(c.provider("big").maxResponseBytes()).isEqualTo(33_554_432L);
        assertThat(c.provider("sim").maxResponseBytes()).isNull();
        assertThat(c.provider("big").settings()).doesNotContainKey("max_response_bytes");
    }
}
