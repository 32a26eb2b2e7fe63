package io.caravan.catalog;

import io.caravan.util.Durations;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CatalogLoaderTest {

    static final String CONTRACT_EXAMPLE = """
            providers:
              moonshot:
                api: openai
                base_url: https://api.moonshot.ai/v1/
                api_keys: ["${KIMI_API_KEY}", "${KIMI_API_KEY_2:-}", "${UNSET_KEY}"]
                headers: {X-Team: "${TEAM:-core}"}
                timeout: 45s
                retries: 3
                backoff: 250ms
                rpm: "${KIMI_RPM:-60}"
                tpm: 128000
              qwen:
                api: openai
                base_url: https://dashscope-intl.aliyuncs.com/compatible-mode/v1
                api_keys: ["${DASHSCOPE_API_KEY}"]
              sim:
                api: simulated
                latency: 20ms
                error_rate: 0.1
                error_status: 503

            models:
              - name: kimi-k2
                provider: moonshot
                model: kimi-k2-0905-preview
                context_window: 262144
                max_output_tokens: 8192
                price: {input: 0.60, cached_input: 0.15, output: 2.50}
                weight: 3
              - name: qwen-max
                provider: qwen
                model: qwen-max
                context_window: 32768
                price: {input: 1.60, output: 6.40}
              - name: kimi-k2
                provider: sim
                model: sim-large

            fallbacks:
              kimi-k2: [qwen-max]
            context_window_fallbacks:
              qwen-max: [kimi-k2]

            tiers:
              fast:     {model: qwen-max, max_score: 3.0}
              balanced: {model: kimi-k2,  max_score: 6.5}
              powerful: {model: kimi-k2}
            default_tier: balanced

            routing:
              keywords:
                powerful: [strategic, complex, planning, synthesis]
                fast: [quick, simple, format, list]
              score_weights: {agent: 0.7, task: 0.3}

            circuit_breaker:
              failure_rate: 40
              open_for: 1m

            budgets:
              tiers: {powerful: 200}
              tenants: {acme: 50}
              on_exceed: reject

            cache: {ttl: 10m, max_entries: 100}
            escalation: {tiers: [fast, balanced], gates: {min_chars: 5}}
            """;

    static final Map<String, String> ENV = Map.of("KIMI_API_KEY", "sk-kimi-1", "KIMI_API_KEY_2", "",
            "DASHSCOPE_API_KEY", "sk-dash");

    @TempDir
    Path dir;

    Path write(String yaml) throws IOException {
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, yaml);
        return file;
    }

    @Test
    void loadsTheContractExample() throws IOException {
        List<String> warnings = new ArrayList<>();
        Catalog c = CatalogLoader.load(write(CONTRACT_EXAMPLE), ENV, warnings::add);

        assertThat(c.source()).isEqualTo(dir.resolve("catalog.yaml").toString());
        assertThat(c.providers()).containsOnlyKeys("moonshot", "qwen", "sim");
        ProviderSpec moonshot = c.provider("moonshot");
        assertThat(moonshot.apiKeys()).containsExactly("sk-kimi-1");
        assertThat(moonshot.baseUrl()).isEqualTo("https://api.moonshot.ai/v1");
        assertThat(moonshot.headers()).containsEntry("X-Team", "core");
        assertThat(moonshot.timeout()).isEqualTo(Duration.ofSeconds(45));
        assertThat(moonshot.retries()).isEqualTo(3);
        assertThat(moonshot.backoff()).isEqualTo(Duration.ofMillis(250));
        assertThat(moonshot.rpm()).isEqualTo(60);
        assertThat(moonshot.tpm()).isEqualTo(128000);
        assertThat(moonshot.settings()).isEmpty();

        ProviderSpec qwen = c.provider("qwen");
        assertThat(qwen.timeout()).isEqualTo(ProviderSpec.DEFAULT_TIMEOUT);
        assertThat(qwen.retries()).isEqualTo(ProviderSpec.DEFAULT_RETRIES);
        assertThat(qwen.backoff()).isEqualTo(ProviderSpec.DEFAULT_BACKOFF);
        assertThat(qwen.rpm()).isNull();

        ProviderSpec sim = c.provider("sim");
        assertThat(sim.baseUrl()).isNull();
        assertThat(sim.apiKeys()).isEmpty();
        assertThat(sim.setting("latency", null)).isEqualTo("20ms");
        assertThat(sim.setting("error_rate", null)).isEqualTo("0.1");
        assertThat(sim.setting("error_status", null)).isEqualTo("503");

        assertThat(c.groups()).containsOnlyKeys("kimi-k2", "qwen-max");
        DeploymentSpec k0 = c.group("kimi-k2").get(0);
        assertThat(k0.id()).isEqualTo("kimi-k2#0");
        assertThat(k0.weight()).isEqualTo(3);
        assertThat(k0.contextWindow()).isEqualTo(262144);
        assertThat(k0.maxOutputTokens()).isEqualTo(8192);
        assertThat(k0.price()).isEqualTo(new Price(0.60, 0.15, 2.50));
        DeploymentSpec q0 = c.group("qwen-max").get(0);
        assertThat(q0.price()).isEqualTo(new Price(1.60, null, 6.40));
        assertThat(q0.maxOutputTokens()).isNull();
        DeploymentSpec k1 = c.group("kimi-k2").get(1);
        assertThat(k1.id()).isEqualTo("kimi-k2#1");
        assertThat(k1.weight()).isEqualTo(1);
        assertThat(k1.price()).isEqualTo(Price.FREE);
        assertThat(warnings).anyMatch(w -> w.contains("models[2] (kimi-k2)") && w.contains("kimi-k2#1")
                && w.contains("no price"));

        assertThat(c.fallbackChain("kimi-k2")).containsExactly("qwen-max");
        assertThat(c.contextWindowChain("qwen-max")).containsExactly("kimi-k2");
        assertThat(c.tierList()).extracting(TierSpec::name).containsExactly("fast", "balanced", "powerful");
        assertThat(c.tier("fast")).isEqualTo(new TierSpec("fast", "qwen-max", 3.0));
        assertThat(c.tier("powerful").maxScore()).isNull();
        assertThat(c.defaultTier()).isEqualTo("balanced");

        assertThat(c.routing().keywords().keySet()).containsExactly("powerful", "fast");
        assertThat(c.routing().keywords().get("fast")).containsExactly("quick", "simple", "format", "list");
        assertThat(c.routing().agentWeight()).isEqualTo(0.7);
        assertThat(c.routing().taskWeight()).isEqualTo(0.3);

        assertThat(c.circuitBreaker()).isEqualTo(new CircuitBreakerSpec(40f, 20, 5, Duration.ofMinutes(1), 1));
        assertThat(c.budgets()).isEqualTo(new BudgetSpec(Map.of("powerful", 200.0), Map.of("acme", 50.0), "reject"));
    }

    @Test
    void appliesDefaultsForOptionalBlocks() throws IOException {
        Catalog c = CatalogLoader.load(write("""
                providers:
                  sim: {api: simulated}
                models:
                  - {name: small, provider: sim, model: s}
                """), Map.of());
        assertThat(c.tiers()).isEmpty();
        assertThat(c.defaultTier()).isNull();
        assertThat(c.fallbacks()).isEmpty();
        assertThat(c.routing()).isEqualTo(RoutingSpec.DEFAULT);
        assertThat(c.circuitBreaker()).isEqualTo(CircuitBreakerSpec.DEFAULT);
        assertThat(c.budgets()).isEqualTo(BudgetSpec.NONE);
    }

    @Test
    void defaultTierIsBalancedWhenPresentElseTheFirst() throws IOException {
        String head = """
                providers:
                  sim: {api: simulated}
                models:
                  - {name: a, provider: sim, model: a}
                  - {name: b, provider: sim, model: b}
                """;
        Catalog withBalanced = CatalogLoader.load(write(head + """
                tiers:
                  fast: {model: a, max_score: 3}
                  balanced: {model: b, max_score: 6}
                  powerful: b
                """), Map.of());
        assertThat(withBalanced.defaultTier()).isEqualTo("balanced");
        assertThat(withBalanced.tier("powerful").group()).isEqualTo("b");

        Catalog without = CatalogLoader.load(write(head + """
                tiers:
                  cheap: {model: a, max_score: 3}
                  big: {model: b}
                """), Map.of());
        assertThat(without.defaultTier()).isEqualTo("cheap");
    }

    @Test
    void expandsVariablesWithDefaults() {
        Map<String, String> env = Map.of("A", "alpha", "EMPTY", "");
        assertThat(CatalogLoader.expand("${A}", env)).isEqualTo("alpha");
        assertThat(CatalogLoader.expand("x-${A}-y", env)).isEqualTo("x-alpha-y");
        assertThat(CatalogLoader.expand("${MISSING}", env)).isEmpty();
        assertThat(CatalogLoader.expand("${MISSING:-dflt}", env)).isEqualTo("dflt");
        assertThat(CatalogLoader.expand("${EMPTY:-dflt}", env)).isEqualTo("dflt");
        assertThat(CatalogLoader.expand("${A:-dflt}", env)).isEqualTo("alpha");
        assertThat(CatalogLoader.expand("${MISSING:-}", env)).isEmpty();
        assertThat(CatalogLoader.expand("${A}/${MISSING:-b}", env)).isEqualTo("alpha/b");
        assertThat(CatalogLoader.expand("no vars $HOME", env)).isEqualTo("no vars $HOME");
        assertThat(CatalogLoader.expand("${A:-with $ sign}", Map.of())).isEqualTo("with $ sign");
    }

    @Test
    void dropsKeysThatAreEmptyAfterExpansion() throws IOException {
        Catalog c = CatalogLoader.load(write("""
                providers:
                  p:
                    api: openai
                    base_url: https://example.test/v1
                    api_keys: ["${K1}", "${K2:-}", "${K3}", "", "${K4:-fallback-key}"]
                  q:
                    api: openai
                    base_url: https://example.test/v1
                    api_keys: ["${NOPE}"]
                models:
                  - {name: a, provider: p, model: a}
                  - {name: b, provider: q, model: b}
                """), Map.of("K1", "one", "K3", "three"));
        assertThat(c.provider("p").apiKeys()).containsExactly("one", "three", "fallback-key");
        assertThat(c.provider("q").apiKeys()).isEmpty();
    }

    @ParameterizedTest
    @CsvSource({
        "500ms, 500",
        "30s, 30000",
        "2m, 120000",
        "1h, 3600000",
        "45, 45000",
        "1.5s, 1500",
        "0.25, 250",
        "0, 0",
        "' 10 s ', 10000",
    })
    void parsesDurations(String text, long millis) {
        assertThat(Durations.parse(text)).isEqualTo(Duration.ofMillis(millis));
    }

    @ParameterizedTest
    @CsvSource({"soon", "10 days", "-1s", "1d", "s", "''"})
    void rejectsBadDurations(String text) {
        assertThatThrownBy(() -> Durations.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bad duration");
    }

    @Test
    void readsNumericDurationsAsSeconds() throws IOException {
        Catalog c = CatalogLoader.load(write("""
                providers:
                  sim: {api: simulated, timeout: 12, backoff: 0.5}
                models:
                  - {name: a, provider: sim, model: a}
                circuit_breaker: {open_for: 90s, window: 10, minimum_calls: 3, half_open_calls: 2, failure_rate: "25%"}
                """), Map.of());
        assertThat(c.provider("sim").timeout()).isEqualTo(Duration.ofSeconds(12));
        assertThat(c.provider("sim").backoff()).isEqualTo(Duration.ofMillis(500));
        assertThat(c.circuitBreaker()).isEqualTo(new CircuitBreakerSpec(25f, 10, 3, Duration.ofSeconds(90), 2));
    }

    @Test
    void formatsDurations() {
        assertThat(Durations.format(Duration.ofMillis(500))).isEqualTo("500ms");
        assertThat(Durations.format(Duration.ofSeconds(30))).isEqualTo("30s");
        assertThat(Durations.format(Duration.ofMinutes(2))).isEqualTo("2m");
        assertThat(Durations.format(Duration.ofHours(1))).isEqualTo("1h");
        assertThat(Durations.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
    }

    @Test
    void numbersDeploymentsWithinTheirGroupInFileOrder() throws IOException {
        Catalog c = CatalogLoader.load(write("""
                providers:
                  sim: {api: simulated}
                models:
                  - {name: a, provider: sim, model: a1}
                  - {name: b, provider: sim, model: b1}
                  - {name: a, provider: sim, model: a2, weight: 2}
                  - {name: a, provider: sim, model: a3}
                  - {name: b, provider: sim, model: b2}
                """), Map.of());
        assertThat(c.group("a")).extracting(DeploymentSpec::id).containsExactly("a#0", "a#1", "a#2");
        assertThat(c.group("a")).extracting(DeploymentSpec::model).containsExactly("a1", "a2", "a3");
        assertThat(c.group("a")).extracting(DeploymentSpec::weight).containsExactly(1, 2, 1);
        assertThat(c.group("b")).extracting(DeploymentSpec::id).containsExactly("b#0", "b#1");
        assertThat(c.groups().keySet()).containsExactly("a", "b");
        assertThat(c.group("a").get(1).routeKey()).isEqualTo("a-1");
    }

    @Test
    void followsFallbacksTransitivelyInOrderEachGroupOnce() throws IOException {
        Catalog c = CatalogLoader.load(write("""
                providers:
                  sim: {api: simulated}
                models:
                  - {name: a, provider: sim, model: m}
                  - {name: b, provider: sim, model: m}
                  - {name: c, provider: sim, model: m}
                  - {name: d, provider: sim, model: m}
                  - {name: e, provider: sim, model: m}
                fallbacks:
                  a: [b, c]
                  b: [d]
                  c: [d, e]
                context_window_fallbacks:
                  a: e
                  e: [d]
                """), Map.of());
        assertThat(c.fallbackChain("a")).containsExactly("b", "d", "c", "e");
        assertThat(c.fallbackChain("c")).containsExactly("d", "e");
        assertThat(c.fallbackChain("e")).isEmpty();
        assertThat(c.contextWindowChain("a")).containsExactly("e", "d");
    }

    @Test
    void readsTheTrafficShapingBlocks() throws IOException {
        Catalog c = CatalogLoader.load(write("""
                providers:
                  sim: {api: simulated}
                models:
                  - {name: a, provider: sim, model: a}
                  - {name: b, provider: sim, model: b}
                tiers:
                  fast: {model: a}
                  balanced: {model: b}
                groups:
                  a: {strategy: latency}
                cache: {ttl: 1h}
                escalation: {tiers: [fast, balanced], gates: {json: true, finish_reason: stop}}
                """), Map.of());
        assertThat(c.groups()).containsOnlyKeys("a", "b");
        assertThat(c.shaping().strategy("a")).isEqualTo("latency");
        assertThat(c.shaping().strategy("b")).isEqualTo("weighted");
        assertThat(c.shaping().cache().ttl()).isEqualTo(java.time.Duration.ofHours(1));
        assertThat(c.shaping().cache().maxEntries()).isEqualTo(10_000);
        assertThat(c.shaping().escalation().tiers()).containsExactly("fast", "balanced");
        assertThat(c.shaping().escalation().gates().json()).isEqualTo("requested");
    }

    @Test
    void acceptsContractApisEvenWithoutAnAdapterOnTheClassPath() throws IOException {
        Catalog c = CatalogLoader.load(write("""
                providers:
                  a: {api: anthropic, base_url: "https://api.anthropic.com"}
                  g: {api: gemini, base_url: "https://generativelanguage.googleapis.com"}
                models:
                  - {name: claude, provider: a, model: claude-x}
                  - {name: gem, provider: g, model: gem-x}
                """), Map.of());
        assertThat(c.provider("a").api()).isEqualTo("anthropic");
        assertThat(c.provider("g").api()).isEqualTo("gemini");
    }
}
