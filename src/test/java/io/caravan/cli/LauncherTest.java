package io.caravan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/caravan} under {@code sh}: the java command it builds (a dry run), and a real run of the command line
 * through a stand-in jar (this build's classes; the packaged jar does not exist yet when the tests run).
 */
class LauncherTest {

    @TempDir
    static Path dir;
    private static Path stubJar;

    record Run(int status, String out, String err) {}

    /** A jar naming CaravanMain and the test classpath's product entries, as target/caravan.jar would hold them. */
    @BeforeAll
    static void standInJar() throws IOException {
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String entries = Arrays.stream(classpath.split(File.pathSeparator))
                .filter(entry -> !entry.endsWith("test-classes"))
                .map(entry -> Path.of(entry).toUri().toString())
                .collect(Collectors.joining(" "));
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(Attributes.Name.MAIN_CLASS, "io.caravan.CaravanMain");
        manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH, entries);
        stubJar = dir.resolve("caravan.jar");
        try (OutputStream out = Files.newOutputStream(stubJar); JarOutputStream jar = new JarOutputStream(out, manifest)) {
            // the manifest is all
        }
    }

    private static Run launch(Map<String, String> env, String... args) throws Exception {
        return launchIn(Path.of("."), env, args);
    }

    /** bin/caravan run from this folder, as a user standing there would. */
    private static Run launchIn(Path folder, Map<String, String> env, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("sh", Path.of("bin/caravan").toAbsolutePath().toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).directory(folder.toFile());
        builder.environment().keySet().removeIf(name -> name.startsWith("CARAVAN_"));
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().put("CARAVAN_JAR", stubJar.toString());
        builder.environment().putAll(env);
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("bin/caravan " + String.join(" ", args) + " did not end; it started something");
        }
        return new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    void settingsGoToTheJvmBeforeTheJarAndTheCommandAfterIt() throws Exception {
        Run run = launch(Map.of("CARAVAN_DRY_RUN", "1", "JAVA_HOME", "/opt/jdk"),
                "-Dcaravan.http.port=9000", "-Dname=two words", "send", "-H", "caravan-tenant=acme", "-D", "x y");
        assertThat(run.status()).isZero();
        assertThat(run.out().lines()).containsExactly("/opt/jdk/bin/java", "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC",
                "-Xmn64m", "-XX:SurvivorRatio=2", "-XX:+ExitOnOutOfMemoryError", "-Dcaravan.http.port=9000", "-Dname=two words", "-jar",
                stubJar.toString(), "send", "-H", "caravan-tenant=acme", "-D", "x y");
    }

    @Test
    void heapAndOptionsFromTheEnvironmentAndAChosenCollectorReplacesTheDefault() throws Exception {
        Run run = launch(Map.of("CARAVAN_DRY_RUN", "1", "CARAVAN_HEAP", "256m",
                "CARAVAN_JAVA_OPTS", "-XX:+UseG1GC -Xss512k"));
        assertThat(run.out().lines()).containsExactly(System.getProperty("java.home") + "/bin/java", "-Xms64m", "-Xmx256m",
                "-XX:+ExitOnOutOfMemoryError", "-XX:+UseG1GC", "-Xss512k", "-jar", stubJar.toString());
    }

    @Test
    void theYoungGenerationFollowsTheHeapAndJdk25GetsCompactObjectHeadersAndNativeTrimming() throws Exception {
        Path jdk25 = Files.createDirectories(dir.resolve("jdk-25"));
        Files.writeString(jdk25.resolve("release"), "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.3\"\n");
        Run run = launch(Map.of("CARAVAN_DRY_RUN", "1", "JAVA_HOME", jdk25.toString(), "CARAVAN_HEAP", "1g"), "run");
        assertThat(run.out().lines()).containsExactly(jdk25 + "/bin/java", "-Xms256m", "-Xmx1g", "-XX:+UseSerialGC",
                "-Xmn128m", "-XX:SurvivorRatio=2", "-XX:+UseCompactObjectHeaders", "-XX:TrimNativeHeapInterval=1000",
                "-XX:+ExitOnOutOfMemoryError",
                "-jar", stubJar.toString(), "run");
        // a heap the launcher cannot read is the JVM's to judge; no young generation is derived from it
        assertThat(launch(Map.of("CARAVAN_DRY_RUN", "1", "CARAVAN_HEAP", "lots"), "run").out().lines())
                .contains("-Xmxlots").noneMatch(option -> option.startsWith("-Xmn"));
    }

    @Test
    void trainWritesTheClassArchiveNextToTheJarAndLaterStartsUseItWhileItIsNewerThanTheJar() throws Exception {
        int feature = Runtime.version().feature();
        Path archive = dir.resolve(feature >= 25 ? "caravan.jdk" + feature + ".aot" : "caravan.jdk" + feature + ".jsa");
        String write = (feature >= 25 ? "-XX:AOTCacheOutput=" : "-XX:ArchiveClassesAtExit=") + archive;
        String use = (feature >= 25 ? "-XX:AOTCache=" : "-XX:SharedArchiveFile=") + archive;
        Files.deleteIfExists(archive);
        assertThat(launch(Map.of("CARAVAN_DRY_RUN", "1"), "train").out().lines()).contains(write).doesNotContain(use);
        assertThat(launch(Map.of("CARAVAN_DRY_RUN", "1"), "run").out()).doesNotContain(archive.toString());

        Files.writeString(archive, "trained");
        archive.toFile().setLastModified(stubJar.toFile().lastModified() + 2_000);
        assertThat(launch(Map.of("CARAVAN_DRY_RUN", "1"), "-Dx=1", "run").out().lines()).contains(use);
        assertThat(launch(Map.of("CARAVAN_DRY_RUN", "1", "CARAVAN_AOT", "off"), "run").out())
                .doesNotContain(archive.toString());
        // a jar built after the training: the archive no longer matches it and is left alone
        archive.toFile().setLastModified(stubJar.toFile().lastModified() - 2_000);
        assertThat(launch(Map.of("CARAVAN_DRY_RUN", "1"), "run").out()).doesNotContain(archive.toString());
        Files.delete(archive);
    }

    @Test
    void aTrainingRunOfNoTimeOrWithAStrayArgumentIsOneLineAndExitTwo() throws Exception {
        for (String[] args : List.of(new String[] {"train", "--seconds", "0"}, new String[] {"train", "now"})) {
            Run run = launch(Map.of(), args);
            assertThat(run.status()).as(run.err()).isEqualTo(2);
            assertThat(run.err().lines()).hasSize(1).first().asString().startsWith("caravan train: ")
                    .endsWith("(usage: caravan train [--seconds N])");
        }
        // the JVM wrote an archive of the little it loaded as it exited: not left behind
        int feature = Runtime.version().feature();
        Files.deleteIfExists(dir.resolve("caravan.jdk" + feature + (feature >= 25 ? ".aot" : ".jsa")));
    }

    @Test
    void aMissingJarIsOneLineSayingHowToBuildIt() throws Exception {
        Run run = launch(Map.of("CARAVAN_JAR", dir.resolve("nowhere.jar").toString()), "help");
        assertThat(run.status()).isEqualTo(1);
        assertThat(run.err().strip()).isEqualTo("caravan: no " + dir.resolve("nowhere.jar")
                + "; build it first with: mvn -B package -DskipTests");
    }

    @Test
    void helpRunsAndExitsZeroAnUnknownCommandIsOneLineAndExitTwo() throws Exception {
        Run help = launch(Map.of(), "help");
        assertThat(help.status()).as(help.err()).isZero();
        assertThat(help.out()).startsWith("usage: caravan").contains("  send ", "  tail ");

        Run unknown = launch(Map.of(), "-Dcaravan.http.port=1", "frobnicate");
        assertThat(unknown.status()).isEqualTo(2);
        assertThat(unknown.out()).isEmpty();
        assertThat(unknown.err().lines()).hasSize(1).first().asString()
                .startsWith("caravan: unknown command 'frobnicate'");
    }

    @Test
    void batchLooksForTheCatalogWhereTheUserStandsAndSaysSoInOneLineWhenItIsMissing() throws Exception {
        Path elsewhere = Files.createDirectory(dir.resolve("elsewhere"));
        Files.writeString(elsewhere.resolve("in.jsonl"), "");
        Run run = launchIn(elsewhere, Map.of(), "batch", "in.jsonl", "-o", "out.jsonl");
        assertThat(run.status()).as(run.err()).isEqualTo(2);
        assertThat(run.err().lines()).hasSize(1).first().asString()
                .startsWith("caravan batch: no catalog at " + elsewhere.toRealPath().resolve("catalog.yaml") + " ")
                .contains("--catalog FILE");
    }
}
