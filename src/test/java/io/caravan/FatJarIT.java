package io.caravan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.caravan.support.BrokerProcess;
import io.caravan.support.Caravan;
import io.caravan.support.TempFolders;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The packaged jar as a user runs it (failsafe, in {@code mvn verify}, after the shade): {@code bin/caravan run}
 * with the embedded broker and a keyless simulated catalog, from a folder of the user's own; ten tasks in with
 * {@code caravan send}, their results out with {@code caravan tail}; a chat completion over HTTP; then SIGTERM and
 * a clean exit. The in-JVM tests run on the test classpath, where a component missing from the jar goes unseen.
 */
class FatJarIT {

    static final String CATALOG = """
            providers:
              sim: {api: simulated, latency: 5ms, error_rate: 0}
            models:
              - {name: demo, provider: sim, model: demo-model, price: {input: 0.1, output: 0.2}}
            tiers:
              balanced: {model: demo}
            """;

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    Path folder;
    int httpPort;
    int kafkaPort;
    Process router;

    @BeforeEach
    void folder() throws IOException {
        assertThat(Path.of("target/caravan.jar")).as("mvn verify packages the jar before this test").exists();
        folder = Files.createTempDirectory("caravan-fat-jar");
        Files.writeString(folder.resolve("catalog.yaml"), CATALOG);
        httpPort = Caravan.freePort();
        kafkaPort = BrokerProcess.freePortPair();
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (router != null && router.isAlive()) {
            router.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
        }
        TempFolders.delete(folder);
    }

    ProcessBuilder caravan(String... args) {
        List<String> command = new ArrayList<>(List.of("sh", Path.of("bin/caravan").toAbsolutePath().toString(),
                "-Dcaravan.embedded-kafka.port=" + kafkaPort));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).directory(folder.toFile());
        builder.environment().keySet().removeIf(name -> name.startsWith("CARAVAN_"));
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().put("CARAVAN_JAR", Path.of("target/caravan.jar").toAbsolutePath().toString());
        // no class archive from an earlier `caravan train`: the plain jar is what is tested
        builder.environment().put("CARAVAN_AOT", "off");
        return builder;
    }

    /** Runs a command to its end; its output. */
    String command(String input, String... args) throws Exception {
        Path out = folder.resolve("out-" + args[0] + ".txt");
        Process p = caravan(args).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        try (var stdin = p.getOutputStream()) {
            stdin.write(input.getBytes(StandardCharsets.UTF_8));
        }
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("caravan " + args[0] + " ends").isTrue();
        String output = Files.readString(out);
        assertThat(p.exitValue()).as("caravan " + args[0] + ": " + output).isZero();
        return output;
    }

    int status(String path) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    @Test
    void theJarRunsTakesTasksThroughKafkaAndHttpAndStopsCleanly() throws Exception {
        Path log = folder.resolve("caravan.log");
        router = caravan("-Dcaravan.http.port=" + httpPort, "run")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        await("ready").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
                .until(() -> status("/health/ready") == 200 || !router.isAlive());
        assertThat(router.isAlive()).as("caravan run is up:\n%s", Files.readString(log)).isTrue();
        assertThat(folder.resolve("data/kafka")).as("the embedded broker's data, where the user stands").isDirectory();

        StringBuilder tasks = new StringBuilder();
        for (int i = 0; i < 10; i++) {
            tasks.append("{\"id\":\"jar-").append(i).append("\",\"prompt\":\"say ").append(i).append("\"}\n");
        }
        assertThat(command(tasks.toString(), "send", "-")).contains("10 tasks sent");
        String results = command("", "tail", "results", "--from-beginning", "--max", "10");
        for (int i = 0; i < 10; i++) {
            assertThat(results).contains("jar-" + i);
        }

        HttpResponse<String> chat = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + httpPort + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(
                        "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
        assertThat(chat.body()).contains("\"choices\"");

        router.destroy(); // SIGTERM, as Ctrl-C or a container stop
        assertThat(router.waitFor(60, TimeUnit.SECONDS)).as("caravan run stops after SIGTERM").isTrue();
        String output = Files.readString(log);
        // 143: the JVM's status after a SIGTERM it handled with its shutdown hooks
        assertThat(router.exitValue()).as(output).isIn(0, 143);
        // no error and no stack trace from the start to the stop (a warning naming an exception may come and go)
        assertThat(output).doesNotContain(" ERROR ").doesNotContain("\n\tat ")
                .contains("drained: every task answered and committed");
    }
}
