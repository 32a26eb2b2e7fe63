package io.caravan;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * `caravan run` with a bad catalog stops before anything starts: exit status 2 and one line on stderr. Help is
 * printed for help, --help and -h; an unknown command or option is one line and exit 2, never a start-up.
 */
class CaravanMainTest {

    /** Runs the command line; returns status, stdout and stderr. */
    private static String[] main(String... args) throws Exception {
        PrintStream originalOut = System.out;
        PrintStream originalErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = CaravanMain.run(args);
        } finally {
            System.setOut(originalOut);
            System.setErr(originalErr);
        }
        return new String[] {String.valueOf(status), out.toString(StandardCharsets.UTF_8),
                err.toString(StandardCharsets.UTF_8)};
    }

    @ParameterizedTest
    @ValueSource(strings = {"help", "--help", "-h"})
    void helpPrintsEveryCommandAndExitsZero(String help) throws Exception {
        String[] result = main(help);
        assertThat(result[0]).isEqualTo("0");
        assertThat(result[2]).isEmpty();
        assertThat(result[1]).startsWith("usage: caravan").contains("\n  run ", "\n  send ", "\n  tail ",
                "\n  check ", "\n  batch ", "\n  report ", "\n  help ");
    }

    @Test
    void helpAfterACommandIsHelpToo() throws Exception {
        assertThat(main("send", "--help")[0]).isEqualTo("0");
        assertThat(main("run", "-h")[1]).startsWith("usage: caravan");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "frobnicate|caravan: unknown command 'frobnicate' (commands: run, check, send, tail, batch, report, keys, train, help)",
        "--port|caravan: unknown option '--port' (commands: run, check, send, tail, batch, report, keys, train, help)",
        "-Dcaravan.http.port=1|caravan: unknown option '-Dcaravan.http.port=1' (settings go before -jar:"
                + " java -Dname=value -jar caravan.jar COMMAND, or bin/caravan -Dname=value COMMAND)"})
    void anUnknownCommandOrOptionIsOneLineAndExitTwo(String arg, String line) throws Exception {
        String[] result = main(arg, "--catalog", "catalog.yaml");
        assertThat(result[0]).isEqualTo("2");
        assertThat(result[1]).isEmpty();
        assertThat(result[2].strip()).isEqualTo(line);
    }

    @Test
    void anUnknownOptionOfRunIsOneLineNotAStartUp() throws Exception {
        // with the option ignored this would start a router (and block this test)
        String[] result = main("run", "--catalog", "catalog.yaml", "--port", "9000");
        assertThat(result[0]).isEqualTo("2");
        assertThat(result[2].strip()).isEqualTo("caravan run: unexpected argument '--port' (caravan help)");
    }

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
