package io.caravan.support;

import io.caravan.CaravanApp;
import io.caravan.Settings;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogLoader;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

/**
 * A whole Caravan (Camel Main, YAML routes, HTTP server, Kafka intake) started for a test against the shared
 * test broker, with topics and a consumer group of its own, on a free loopback port.
 */
public final class Caravan implements AutoCloseable {

    public final String tasksTopic;
    public final String resultsTopic;
    public final String usageTopic;
    public final String dlqTopic;
    public final String group;
    public final int httpPort;
    private final CaravanApp app;
    private final Path dir;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Caravan(CaravanApp app, Path dir, String prefix, int httpPort) {
        this.app = app;
        this.dir = dir;
        this.tasksTopic = prefix + ".tasks";
        this.resultsTopic = prefix + ".results";
        this.usageTopic = prefix + ".usage";
        this.dlqTopic = prefix + ".dlq";
        this.group = prefix + "-group";
        this.httpPort = httpPort;
    }

    /** Starts Caravan with this catalog (YAML text) and these extra settings. */
    public static Caravan start(String catalogYaml, Map<String, String> env, Map<String, String> extra)
            throws Exception {
        return start(catalogYaml, env, extra, newPrefix());
    }

    /** A fresh prefix for topics and the consumer group; two Caravans started with the same one share them. */
    public static String newPrefix() {
        return "t" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Starts Caravan on the topics and consumer group of this prefix. */
    public static Caravan start(String catalogYaml, Map<String, String> env, Map<String, String> extra, String prefix)
            throws Exception {
        return start(catalogYaml, env, extra, prefix, TestKafka.bootstrapServers());
    }

    /** The same on another broker than the shared test one (one the test may stop and start again). */
    public static Caravan start(String catalogYaml, Map<String, String> env, Map<String, String> extra, String prefix,
            String bootstrapServers) throws Exception {
        Path dir = Files.createTempDirectory("caravan-test");
        Path catalogFile = dir.resolve("catalog.yaml");
        Files.writeString(catalogFile, catalogYaml);
        Catalog catalog = CatalogLoader.load(catalogFile, env);
        int port = freePort();
        Settings settings = Settings.load()
                .with("caravan.catalog", catalogFile.toString())
                .with("caravan.http.port", String.valueOf(port))
                .with("caravan.topics.tasks", prefix + ".tasks")
                .with("caravan.topics.results", prefix + ".results")
                .with("caravan.topics.usage", prefix + ".usage")
                .with("caravan.topics.dlq", prefix + ".dlq")
                .with("caravan.consumer.group", prefix + "-group")
                .with("caravan.kafka.poll-timeout-ms", "200");
        for (Map.Entry<String, String> e : extra.entrySet()) {
            settings = settings.with(e.getKey(), e.getValue());
        }
        CaravanApp app;
        try {
            app = new CaravanApp(settings, catalog, bootstrapServers).start();
        } catch (Exception | Error e) {
            TempFolders.delete(dir);
            throw e;
        }
        return new Caravan(app, dir, prefix, port);
    }

    public static Caravan start(String catalogYaml) throws Exception {
        return start(catalogYaml, Map.of(), Map.of());
    }

    public CaravanApp app() {
        return app;
    }

    public HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path))
                .timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + path))
                .timeout(Duration.ofSeconds(30)).GET().build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    public static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    @Override
    public void close() throws Exception {
        try {
            app.close();
        } finally {
            TempFolders.delete(dir);
        }
    }
}
