package io.caravan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The catalogs that ship with Caravan pass `caravan check`; a bad one fails with one line. */
class CommandLineTest {

    static Stream<Path> shippedCatalogs() throws Exception {
        return Stream.concat(Stream.of(Path.of("catalog.yaml")),
                Files.list(Path.of("examples")).filter(p -> p.toString().endsWith(".yaml")).sorted());
    }

    @ParameterizedTest
    @MethodSource("shippedCatalogs")
    void everyShippedCatalogPassesCheck(Path catalog) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Map<String, String> env = Map.of("KIMI_API_KEY", "sk-example-kimi-000", "ANTHROPIC_API_KEY", "sk-ant-example",
                "GEMINI_API_KEY", "AIza-example", "OPENAI_API_KEY", "sk-example-openai", "KIMI_CODE_API_KEY",
                "sk-example-code", "DASHSCOPE_API_KEY", "sk-example-qwen");
        int status = CheckCommand.run(catalog, env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String printed = out.toString(StandardCharsets.UTF_8);
        assertThat(status).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(printed).contains("Tiers", "Groups", "fallbacks:");
        env.values().forEach(key -> assertThat(printed).doesNotContain(key));
    }

    @Test
    void aBadCatalogStopsWithOneLineNamingFileEntryAndProblem(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, """
                providers:
                  p: {api: simulated}
                models:
                  - {name: a, provider: nowhere, model: m}
                """);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = CheckCommand.run(bad, Map.of(), new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String message = err.toString(StandardCharsets.UTF_8).strip();
        assertThat(status).isEqualTo(2);
        assertThat(message.lines()).hasSize(1);
        assertThat(message).contains(bad.toString()).contains("models[0]").contains("unknown provider 'nowhere'");
    }
}
