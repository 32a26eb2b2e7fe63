package io.caravan.shaping;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.caravan.catalog.CatalogException;
import io.caravan.catalog.CatalogLoader;
import io.caravan.cli.CheckCommand;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The catalog's groups:, cache: and escalation: blocks: validation with one-line errors, and caravan check. */
class ShapingCatalogTest {

    static final String BASE = """
            providers:
              sim: {api: simulated}
            models:
              - {name: a, provider: sim, model: a1}
              - {name: a, provider: sim, model: a2}
              - {name: b, provider: sim, model: b1}
            tiers:
              fast: {model: a}
              balanced: {model: b}
            """;

    @TempDir
    Path dir;

    Path write(String yaml) throws IOException {
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, yaml);
        return file;
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "groups: {a: {strategy: fastest}} | groups.a: unknown strategy 'fastest' (expected one of weighted, least-busy, latency, cost)",
            "groups: {zz: {strategy: cost}} | groups.zz: unknown group 'zz'",
            "groups: {a: {strategy: cost, x: 1}} | groups.a: unknown field 'x' (expected strategy)",
            "cache: {ttl: soon} | cache: ttl:",
            "cache: {ttl: 10m, max_entries: 0} | cache: max_entries: must be a whole number greater than 0, got 0",
            "escalation: {tiers: [fast, huge], gates: {min_chars: 3}} | escalation.tiers: unknown tier 'huge'",
            "escalation: {tiers: [fast], gates: {min_chars: 3}} | escalation.tiers: needs at least two tiers",
            "escalation: {tiers: [fast, balanced]} | escalation.gates: missing",
            "escalation: {tiers: [fast, balanced], gates: {regex: '(('}} | escalation.gates: regex: not a valid regular expression",
    })
    void aBadShapingBlockIsOneLineNamingTheEntry(String block, String message) throws IOException {
        Path file = write(BASE + block + "\n");
        assertThatThrownBy(() -> CatalogLoader.load(file, Map.of()))
                .isInstanceOf(CatalogException.class)
                .hasMessageStartingWith(file + ": " + message.strip())
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void checkPrintsEachGroupsStrategyTheCacheAndEscalation() throws IOException {
        Path file = write(BASE + """
                groups:
                  a: {strategy: least-busy}
                cache: {ttl: 5m, max_entries: 50}
                escalation: {tiers: [fast, balanced], gates: {finish_reason: stop, json: true}}
                """);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int status = CheckCommand.run(file, Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(status).isZero();
        assertThat(text).contains("  a  [tier fast]").contains("strategy:        least-busy");
        assertThat(text).contains("strategy:        weighted");
        assertThat(text).contains("Response cache\n  on: ttl 5m, at most 50 entries");
        assertThat(text).contains("Escalation\n  fast -> balanced while the gates fail: finish_reason stop, json requested");
    }
}
