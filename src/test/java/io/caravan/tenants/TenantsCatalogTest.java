package io.caravan.tenants;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogException;
import io.caravan.catalog.CatalogLoader;
import io.caravan.cli.CheckCommand;
import io.caravan.cli.KeysCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The catalog's tenants: block: hashes or ${ENV} only, one line for a plain key, budgets, check, keys new. */
class TenantsCatalogTest {

    static final String BASE = """
            providers:
              sim: {api: simulated}
            models:
              - {name: small, provider: sim, model: s}
            tiers:
              fast: {model: small}
            """;

    @TempDir
    Path dir;

    Catalog load(String tenants, Map<String, String> env) throws Exception {
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, BASE + tenants);
        return CatalogLoader.load(file, env);
    }

    @Test
    void keysAreHashesOrEnvReferencesAndTheBudgetJoinsTheOldForm() throws Exception {
        Catalog catalog = load("""
                budgets:
                  tenants: {legacy: 5}
                tenants:
                  acme:
                    api_keys: ["%s", "${ACME_KEY}", "${UNSET_KEY}"]
                    budget: 50
                    rpm: 600
                    weight: 3
                """.formatted(KeysCommand.hashLine("k1")), Map.of("ACME_KEY", "k2"));
        assertThat(catalog.tenant("acme").keyHashes()).containsExactly(
                KeysCommand.hashLine("k1").substring(7), KeysCommand.hashLine("k2").substring(7));
        assertThat(catalog.budgets().tenants()).containsEntry("acme", 50.0).containsEntry("legacy", 5.0);
        assertThat(catalog.tenant("acme").weight()).isEqualTo(3);
        assertThat(catalog.tenant("acme").toString()).doesNotContain(KeysCommand.hashLine("k1").substring(7));
    }

    @Test
    void aPlainKeyIsRefusedInOneLineThatDoesNotHoldIt() {
        String plain = "cvk-plain-secret-0123456789";
        assertThatThrownBy(() -> load("""
                tenants:
                  acme:
                    api_keys: ["%s"]
                """.formatted(plain), Map.of()))
                .isInstanceOf(CatalogException.class)
                .hasMessageContaining("tenants.acme.api_keys[0]").hasMessageContaining("plain keys are refused")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(plain).doesNotContain("\n"));
        assertThatThrownBy(() -> load("""
                budgets:
                  tenants: {acme: 5}
                tenants:
                  acme: {budget: 6}
                """, Map.of())).hasMessageContaining("keep one");
        assertThatThrownBy(() -> load("""
                tenants:
                  acme: {allow: {tiers: [nowhere]}}
                """, Map.of())).hasMessageContaining("unknown tier 'nowhere'");
    }

    @Test
    void checkListsTenantsWithKeyCountsAndLimitsNeverKeys() throws Exception {
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, BASE + """
                tenants:
                  acme:
                    api_keys: ["${ACME_KEY}"]
                    budget: 50
                    rpm: 600
                    allow: {tiers: [fast]}
                """);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(CheckCommand.run(file, Map.of("ACME_KEY", "cvk-secret-in-env"), new PrintStream(out),
                new PrintStream(out))).isZero();
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("Tenants").containsPattern("acme\\s+1\\s+50.00\\s+600")
                .doesNotContain("cvk-secret-in-env").doesNotContain(KeysCommand.hashLine("cvk-secret-in-env").substring(7));
    }

    @Test
    void keysNewPrintsAKeyOnceAndItsHashLine() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(KeysCommand.run(new String[] {"new", "--tenant", "acme"}, new PrintStream(out),
                new PrintStream(new ByteArrayOutputStream()))).isZero();
        List<String> lines = new ArrayList<>(out.toString(StandardCharsets.UTF_8).lines().map(String::trim).toList());
        String key = lines.stream().filter(l -> l.startsWith("cvk-")).findFirst().orElseThrow();
        assertThat(key.length()).isGreaterThanOrEqualTo(40);
        assertThat(lines).contains("- \"" + KeysCommand.hashLine(key) + "\"");
        assertThat(KeysCommand.run(new String[] {"new"}, new PrintStream(out), new PrintStream(out))).isEqualTo(2);
    }
}
