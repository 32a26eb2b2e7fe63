package io.caravan;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `caravan run` with a bad catalog stops before anything starts: exit status 2 and one line on stderr. */
class CaravanMainTest {

    @Test
    void runWithABadCatalogExitsWithOneLine(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("catalog.yaml");
        Files.writeString(bad, """
                providers:
                  p: {api: simulated}
                models:
                  - {name: a, provider: p, model: m}
                fallbacks: {a: [b]}
                """);
        PrintStream originalErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = CaravanMain.run(new String[] {"run", "--catalog", bad.toString()});
        } finally {
            System.setErr(originalErr);
        }
        String message = err.toString(StandardCharsets.UTF_8).strip();
        assertThat(status).isEqualTo(2);
        assertThat(message.lines()).hasSize(1);
        assertThat(message).startsWith(bad.toString()).contains("fallbacks").contains("unknown group 'b'");
    }
}
