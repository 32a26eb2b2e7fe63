package io.caravan.cli;

import io.caravan.Setting;
import io.caravan.CaravanApp;
import io.caravan.Settings;
import io.caravan.catalog.CatalogLoader;
import io.caravan.kafka.EmbeddedKafka;
import io.caravan.kafka.Topics;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code caravan train [--seconds N]}: a training run for the JVM's class-data archive (bin/caravan runs it with
 * {@code -XX:ArchiveClassesAtExit} on JDK 17-24, {@code -XX:AOTCacheOutput} on JDK 25+, and uses the archive on every
 * later start). It starts a whole router on loopback (embedded broker in a temporary folder, an OpenAI-compatible
 * provider on 127.0.0.1 answering at once, and a simulated one), drives the paths production takes (plain, streamed
 * and task HTTP calls through the provider HTTP client, a Kafka burst, status and metrics) for {@code N} seconds
 * (default 20), stops it and exits, which is when the JVM writes the archive. Nothing leaves the machine.
 * Nothing is kept but the archive.
 */
public final class TrainCommand {

    static final String USAGE = "usage: caravan train [--seconds N]";

    /** The provider calls of production go through the HTTP client and an adapter: the loopback provider trains them. */
    static final String CATALOG = """
            providers:
              trainer: {api: simulated, latency: 0ms, error_rate: 0}
              loopback: {api: openai, base_url: "http://127.0.0.1:%d/v1", api_keys: ["sk-caravan-train"], retries: 0, timeout: 30s}
            models:
              - {name: trainer, provider: trainer, model: trainer-1, price: {input: 1, output: 1}}
              - {name: trainer-http, provider: loopback, model: trainer-2, price: {input: 1, output: 1}}
            tiers:
              balanced: {model: trainer-http}
            """;

    private TrainCommand() {}

    public static int run(List<String> args, Settings settings, PrintStream out, PrintStream err) throws Exception {
        List<String> rest = new ArrayList<>(args);
        int seconds;
        try {
            String value = Options.take(rest, "--seconds");
            seconds = value == null ? 20 : Integer.parseInt(value);
            if (seconds < 1 || seconds > 600) {
                throw new IllegalArgumentException("--seconds is 1 to 600, not " + seconds);
            }
            if (!rest.isEmpty()) {
                throw new IllegalArgumentException("unexpected argument '" + rest.get(0) + "'");
            }
        } catch (IllegalArgumentException e) {
            err.println("caravan train: " + e.getMessage() + " (" + USAGE + ")");
            return 2;
        }
        Path dir = Files.createTempDirectory("caravan-train");
        try (LoopbackProvider provider = LoopbackProvider.start()) {
            Path catalog = dir.resolve("catalog.yaml");
            Files.writeString(catalog, String.format(java.util.Locale.ROOT, CATALOG, provider.port()));
            int port = freePort();
            Settings s = settings.with(Setting.CATALOG, catalog.toString())
                    .with(Setting.HTTP_PORT, String.valueOf(port))
                    .with(Setting.HTTP_API_KEYS, "")
                    .with(Setting.TOPICS_TASKS, "train.tasks").with(Setting.TOPICS_RESULTS, "train.results")
                    .with(Setting.TOPICS_USAGE, "train.usage").with(Setting.TOPICS_DLQ, "train.dlq")
                    .with(Setting.INSTANCE_ID, "trainer");
            try (EmbeddedKafka broker = new EmbeddedKafka(dir.resolve("kafka"), freePort()).start()) {
                Topics.create(s, broker.bootstrapServers());
                CaravanApp app = new CaravanApp(s, CatalogLoader.load(catalog), broker.bootstrapServers()).start();
                try {
                    out.println("caravan train: driving the router for " + seconds + " s");
                    int answered = drive(port, broker.bootstrapServers(), seconds);
                    out.println("caravan train: " + answered + " answers, " + provider.calls()
                            + " calls to the loopback provider; writing the archive as the JVM exits");
                } finally {
                    app.close();
                }
            }
            return 0;
        } finally {
            delete(dir);
        }
    }

    /** HTTP calls of every kind from a few clients, and a Kafka burst, until the time is up: the answers counted. */
    static int drive(int port, String bootstrap, int seconds) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        String base = "http://127.0.0.1:" + port;
        List<HttpRequest> requests = List.of(
                post(base + "/v1/chat/completions", "{\"model\":\"trainer\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
                post(base + "/v1/chat/completions", "{\"model\":\"trainer-http\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
                post(base + "/v1/chat/completions", "{\"model\":\"trainer-http\",\"stream\":true,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
                post(base + "/v1/tasks", "{\"model\":\"trainer-http\",\"prompt\":\"hello\"}"),
                post(base + "/v1/chat/completions", "{\"model\":\"trainer\",\"stream\":true,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
                post(base + "/v1/tasks", "{\"model\":\"trainer\",\"prompt\":\"hello\"}"),
                post(base + "/v1/tasks", "{\"prompt\":\"route me by tier\",\"metadata\":{\"tenant\":\"t\"}}"),
                HttpRequest.newBuilder(URI.create(base + "/status")).build(),
                HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                HttpRequest.newBuilder(URI.create(base + "/health/ready")).build());
        long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        AtomicInteger answered = new AtomicInteger();
        List<Thread> clients = new ArrayList<>();
        for (int c = 0; c < 8; c++) {
            int offset = c;
            Thread t = new Thread(() -> {
                for (int i = offset; System.nanoTime() < end; i++) {
                    try {
                        if (http.send(requests.get(i % requests.size()), HttpResponse.BodyHandlers.ofByteArray())
                                .statusCode() == 200) {
                            answered.incrementAndGet();
                        }
                    } catch (IOException e) {
                        // a refused call trains too
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "caravan-train-" + c);
            t.start();
            clients.add(t);
        }
        answered.addAndGet(kafkaBurst(bootstrap, 2_000, end));
        for (Thread t : clients) {
            t.join();
        }
        return answered.get();
    }

    /** Sends {@code count} tasks to the training tasks topic and reads their results (until {@code end}). */
    static int kafkaBurst(String bootstrap, int count, long end) {
        var producerSettings = Broker.client(bootstrap, "caravan-train");
        producerSettings.put("key.serializer", StringSerializer.class.getName());
        producerSettings.put("value.serializer", ByteArraySerializer.class.getName());
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerSettings)) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>("train.tasks", "train-" + i, ("{\"id\":\"train-" + i
                        + "\",\"model\":\"" + (i % 2 == 0 ? "trainer" : "trainer-http") + "\",\"prompt\":\"task " + i + "\"}")
                        .getBytes(StandardCharsets.UTF_8)));
            }
        }
        var consumerSettings = Broker.client(bootstrap, "caravan-train");
        consumerSettings.put(ConsumerConfig.GROUP_ID_CONFIG, "caravan-train-reader");
        consumerSettings.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        consumerSettings.put("key.deserializer", StringDeserializer.class.getName());
        consumerSettings.put("value.deserializer", ByteArrayDeserializer.class.getName());
        Set<String> results = new HashSet<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(consumerSettings)) {
            consumer.subscribe(List.of("train.results"));
            while (results.size() < count && System.nanoTime() < end) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> results.add(r.key()));
            }
        }
        return results.size();
    }

    private static HttpRequest post(String uri, String body) {
        return HttpRequest.newBuilder(URI.create(uri)).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
