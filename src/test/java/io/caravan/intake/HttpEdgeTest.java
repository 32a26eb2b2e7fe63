package io.caravan.intake;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpRouter;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The HTTP server's edge, small: a connection cap and idle timeouts, bodies bounded in size and in total, the
 * operations endpoints answering while every /v1 worker hangs on a provider, a caller who hangs up aborting the
 * provider call, and the API-key check installed once. The heavy versions are bench/faults/*.sh.
 */
class HttpEdgeTest {

    static final String KEY = "edge-test-key";
    static final int MAX_CONNECTIONS = 50;
    static final int MAX_TASK_BYTES = 4096;
    static final int MAX_IN_FLIGHT = 4;

    static HangingUpstream hanging;
    static Caravan caravan;
    static Path catalogFile;

    static String catalog(String extraModel) {
        return """
                providers:
                  hang:
                    api: openai
                    base_url: http://127.0.0.1:%d/v1
                    api_keys: ["sk-hang-test"]
                    retries: 0
                    timeout: 60s
                  sim:
                    api: simulated
                models:
                  - {name: hang, provider: hang, model: m, price: {input: 1, output: 1}}
                  - {name: sim, provider: sim, model: sim-1, price: {input: 1, output: 1}}
                %s
                tiers:
                  fast: {model: sim}
                default_tier: fast
                """.formatted(hanging.port(), extraModel);
    }

    @BeforeAll
    static void start() throws Exception {
        hanging = new HangingUpstream();
        caravan = Caravan.start(catalog(""), Map.of(), Map.of(
                "caravan.http.api-keys", KEY,
                "caravan.http.max-connections", String.valueOf(MAX_CONNECTIONS),
                "caravan.http.request-head-timeout", "2s",
                "caravan.http.idle-timeout", "3s",
                "caravan.http.body-timeout", "3s",
                "caravan.max-task-bytes", String.valueOf(MAX_TASK_BYTES),
                "caravan.http.max-body-bytes-in-flight", "16384",
                "caravan.max-in-flight", String.valueOf(MAX_IN_FLIGHT),
                "caravan.catalog.watch-interval", "100ms"));
        catalogFile = Path.of(caravan.app().settings().get("caravan.catalog"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (caravan != null) {
            caravan.close();
        }
        if (hanging != null) {
            hanging.close();
        }
    }

    @Test
    void idleConnectionsOverTheCapNeitherLockOutARequestNorStayOpen() throws Exception {
        List<Socket> idle = new ArrayList<>();
        try {
            for (int i = 0; i < 80; i++) { // no bytes, no auth
                idle.add(new Socket(InetAddress.getLoopbackAddress(), caravan.httpPort));
            }
            // the oldest idle ones made room: a caller with a request still gets in and is answered
            assertThat(get("/health/live").statusCode()).isEqualTo(200);
            HttpResponse<String> task = post("/v1/tasks", "{\"prompt\":\"hello over the flood\"}");
            assertThat(task.statusCode()).as(task.body()).isEqualTo(200);
            assertThat(metric("caravan_http_connections_open")).isLessThanOrEqualTo(MAX_CONNECTIONS);
            assertThat(metric("caravan_http_connections_closed_total", "reason", "evicted")).isGreaterThanOrEqualTo(30);

            // and the rest are closed once they waited longer than the request-head timeout for a request
            for (Socket s : idle) {
                assertThat(closedByServerWithin(s, Duration.ofSeconds(15))).isTrue();
            }
            assertThat(metric("caravan_http_connections_closed_total", "reason", "timed_out")).isGreaterThan(0);
        } finally {
            for (Socket s : idle) {
                s.close();
            }
        }
    }

    @Test
    void aKeptAliveConnectionIsClosedAfterTheIdleTimeoutNotTheHeadTimeout() throws Exception {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), caravan.httpPort)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(RawResponse.read(socket.getInputStream()).status).isEqualTo(200);
            long answered = System.nanoTime();
            // past the 2 s head timeout a used connection is still open (its idle timeout is 3 s) ...
            socket.setSoTimeout(2_300);
            assertThat(closedByServerWithin(socket, Duration.ofMillis(2_300))).isFalse();
            // ... and closed once the idle timeout passed
            assertThat(closedByServerWithin(socket, Duration.ofSeconds(10))).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - answered)).isGreaterThanOrEqualTo(Duration.ofSeconds(3));
        }
    }

    @Test
    void aChunkedBodyOverTheLimitGets413InOpenAiShapeAndIsNotReadOn() throws Exception {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), caravan.httpPort)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(head("POST", "/v1/tasks", "Transfer-Encoding: chunked\r\n"));
            byte[] chunk = ("{\"prompt\":\"" + "x".repeat(1000)).getBytes(StandardCharsets.US_ASCII);
            try {
                for (int i = 0; i < 64; i++) { // 64 KB, far over the 4 KB limit
                    out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.write(chunk);
                    out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                }
            } catch (IOException closedWhileSending) {
                // refused mid-body: the answer is already there to read
            }
            RawResponse response = RawResponse.read(socket.getInputStream());
            assertThat(response.status).isEqualTo(413);
            JsonNode error = Json.MAPPER.readTree(response.body).path("error");
            assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
            assertThat(error.path("code").asText()).isEqualTo("request_too_large");
            assertThat(error.path("message").asText()).contains(String.valueOf(MAX_TASK_BYTES));
        }
    }

    @Test
    void bodiesInFlightAreBoundedAndSlowBodiesTimeOut() throws Exception {
        List<Socket> slow = new ArrayList<>();
        try {
            // four 4000-byte bodies whose last byte never comes hold (nearly) the whole 16 KB budget
            for (int i = 0; i < 4; i++) {
                Socket s = new Socket(InetAddress.getLoopbackAddress(), caravan.httpPort);
                s.getOutputStream().write(head("POST", "/v1/tasks", "Content-Length: 4000\r\n"));
                s.getOutputStream().write("z".repeat(3999).getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                slow.add(s);
            }
            Awaitility.await().atMost(Duration.ofSeconds(5))
                    .until(() -> metric("caravan_http_body_bytes_in_flight") >= 4 * 3999);
            HttpResponse<String> busy = post("/v1/tasks", "{\"prompt\":\"" + "y".repeat(1000) + "\"}");
            assertThat(busy.statusCode()).isEqualTo(503);
            assertThat(busy.headers().firstValue("Retry-After")).hasValue("1");
            assertThat(Json.MAPPER.readTree(busy.body()).path("error").path("code").asText()).isEqualTo("server_busy");

            // the slow bodies get 408 when the body deadline passes, and their bytes are given back
            for (Socket s : slow) {
                s.setSoTimeout(10_000);
                assertThat(RawResponse.read(s.getInputStream()).status).isEqualTo(408);
            }
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> metric("caravan_http_body_bytes_in_flight") == 0);
            assertThat(post("/v1/tasks", "{\"prompt\":\"" + "y".repeat(1000) + "\"}").statusCode()).isEqualTo(200);
        } finally {
            for (Socket s : slow) {
                s.close();
            }
        }
    }

    @Test
    void manyConcurrentOversizedChunkedUploadsDoNotWedgeTheService() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(30);
        AtomicInteger refused = new AtomicInteger();
        try {
            List<Future<?>> uploads = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                uploads.add(pool.submit(() -> {
                    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), caravan.httpPort)) {
                        socket.setSoTimeout(10_000);
                        OutputStream out = socket.getOutputStream();
                        out.write(head("POST", "/v1/chat/completions", "Transfer-Encoding: chunked\r\n"));
                        byte[] chunk = new byte[16 * 1024];
                        java.util.Arrays.fill(chunk, (byte) 'z');
                        try {
                            for (int c = 0; c < 64; c++) { // 1 MB each
                                out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                                out.write(chunk);
                                out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                            }
                            out.flush();
                        } catch (IOException closedWhileSending) {
                            // refused mid-body
                        }
                        int status = RawResponse.read(socket.getInputStream()).status;
                        if (status == 413 || status == 503) {
                            refused.incrementAndGet();
                        }
                    } catch (IOException e) {
                        refused.incrementAndGet(); // reset before the answer could be read: refused all the same
                    }
                    return null;
                }));
            }
            for (Future<?> f : uploads) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(refused.get()).isEqualTo(30);
        assertThat(metric("caravan_http_bodies_refused_total", "reason", "too_large")).isGreaterThan(0);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> metric("caravan_http_body_bytes_in_flight") == 0);
        assertThat(get("/health/live").statusCode()).isEqualTo(200);
        assertThat(post("/v1/tasks", "{\"prompt\":\"still answering\"}").statusCode()).isEqualTo(200);
    }

    @Test
    void operationsEndpointsAnswerWhileEveryV1WorkerHangsOnAProvider() throws Exception {
        int before = hanging.received.get();
        List<Socket> callers = new ArrayList<>();
        try {
            // more hanging calls than the Vert.x worker pool has threads (max(20, in-flight + 16))
            for (int i = 0; i < 25; i++) {
                Socket s = new Socket(InetAddress.getLoopbackAddress(), caravan.httpPort);
                byte[] body = "{\"model\":\"hang\",\"prompt\":\"wait for me\"}".getBytes(StandardCharsets.UTF_8);
                s.getOutputStream().write(head("POST", "/v1/tasks", "Content-Length: " + body.length + "\r\n"));
                s.getOutputStream().write(body);
                s.getOutputStream().flush();
                callers.add(s);
            }
            Awaitility.await().atMost(Duration.ofSeconds(10))
                    .until(() -> hanging.received.get() - before >= MAX_IN_FLIGHT);
            for (String path : List.of("/health/live", "/health/ready", "/metrics", "/status")) {
                HttpResponse<String> response = get(path); // each on a connection of its own, answered at once
                assertThat(response.statusCode()).as(path).isIn(200, 503);
            }
            assertThat(get("/health/live").statusCode()).isEqualTo(200);
            assertThat(metric("caravan_http_v1_waiting")).isGreaterThan(0);
        } finally {
            for (Socket s : callers) {
                s.close();
            }
        }
        // the callers left: their provider calls are aborted and the waiting ones never start
        Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> hanging.open.get() == 0);
        assertThat(hanging.received.get() - before).isLessThan(25);
    }

    @Test
    void aCallerWhoHangsUpAbortsTheProviderCall() throws Exception {
        int droppedBefore = hanging.dropped.get();
        int receivedBefore = hanging.received.get();
        long start = System.nanoTime();
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), caravan.httpPort)) {
            byte[] body = "{\"id\":\"leaves-early\",\"model\":\"hang\",\"prompt\":\"never mind\"}"
                    .getBytes(StandardCharsets.UTF_8);
            socket.getOutputStream().write(head("POST", "/v1/tasks", "Content-Length: " + body.length + "\r\n"));
            socket.getOutputStream().write(body);
            socket.getOutputStream().flush();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> hanging.received.get() > receivedBefore);
        }
        // the provider's timeout is 60 s: only an abort closes its connection this soon
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> hanging.dropped.get() > droppedBefore);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(30));
        JsonNode usage = usageEvent("leaves-early");
        assertThat(usage.path("outcome").asText()).isEqualTo("cancelled");
    }

    @Test
    void theApiKeyCheckIsInstalledOnceWhateverRoutesAreAddedLater() throws Exception {
        assertThat(authRoutes()).isEqualTo(1);
        long reloads = caravan.app().catalogReloads();
        Path tmp = catalogFile.resolveSibling("catalog.yaml.tmp");
        Files.writeString(tmp, catalog("  - {name: sim2, provider: sim, model: sim-2, price: {input: 1, output: 1}}"));
        Files.move(tmp, catalogFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> caravan.app().catalogReloads() > reloads);

        assertThat(authRoutes()).isEqualTo(1);
        HttpRequest noKey = HttpRequest.newBuilder(uri("/v1/tasks")).timeout(Duration.ofSeconds(10))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"sim2\",\"prompt\":\"hi\"}")).build();
        assertThat(HttpClient.newHttpClient().send(noKey, HttpResponse.BodyHandlers.ofString()).statusCode())
                .isEqualTo(401);
        assertThat(post("/v1/tasks", "{\"model\":\"sim2\",\"prompt\":\"hi\"}").statusCode()).isEqualTo(200);
    }

    // ---- helpers

    static long authRoutes() {
        VertxPlatformHttpRouter router = VertxPlatformHttpRouter.lookup(caravan.app().camelContext(),
                VertxPlatformHttpRouter.getRouterNameFromPort(caravan.httpPort));
        return router.getRoutes().stream().filter(r -> HttpEdgeServer.AUTH_ROUTE.equals(r.getName())).count();
    }

    static byte[] head(String method, String path, String extra) {
        return (method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
                + "\r\nContent-Type: application/json\r\n" + extra + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + caravan.httpPort + path);
    }

    /** A request on a connection of its own (the pooled ones may be closed by the idle timeout). */
    static HttpResponse<String> post(String path, String body) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(String path) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(5)).GET().build();
        return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
    }

    /** A sample of /metrics (the first whose labels include this name and value, when given). */
    static double metric(String name, String... label) throws Exception {
        String text = get("/metrics").body();
        Pattern line = Pattern.compile("^" + name + "(\\{[^}]*\\})? (\\S+)$", Pattern.MULTILINE);
        Matcher m = line.matcher(text);
        while (m.find()) {
            String labels = m.group(1) == null ? "" : m.group(1);
            if (label.length == 0 || labels.contains(label[0] + "=\"" + label[1] + "\"")) {
                return Double.parseDouble(m.group(2));
            }
        }
        throw new AssertionError("no sample " + name + " in /metrics");
    }

    static boolean closedByServerWithin(Socket socket, Duration time) throws IOException {
        socket.setSoTimeout((int) time.toMillis());
        try {
            return socket.getInputStream().read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset
        }
    }

    static JsonNode usageEvent(String taskId) throws Exception {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < end) {
            for (ConsumerRecord<String, byte[]> r : TestKafka.read(caravan.usageTopic, Integer.MAX_VALUE,
                    Duration.ofSeconds(2))) {
                if (taskId.equals(r.key())) {
                    return Json.MAPPER.readTree(new String(r.value(), StandardCharsets.UTF_8));
                }
            }
        }
        throw new AssertionError("no usage event for task " + taskId);
    }

    /** A status line, headers and a Content-Length body read off a raw connection. */
    record RawResponse(int status, String body) {
        static RawResponse read(InputStream in) throws IOException {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int b;
            while ((b = in.read()) >= 0) {
                head.write(b);
                byte[] h = head.toByteArray();
                int n = h.length;
                if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') {
                    break;
                }
            }
            String text = head.toString(StandardCharsets.US_ASCII);
            if (text.isEmpty()) {
                throw new IOException("closed without an answer");
            }
            int status = Integer.parseInt(text.split(" ", 3)[1]);
            int length = 0;
            boolean chunked = false;
            for (String line : text.split("\r\n")) {
                String lower = line.toLowerCase();
                if (lower.startsWith("content-length:")) {
                    length = Integer.parseInt(line.substring(15).trim());
                }
                chunked |= lower.startsWith("transfer-encoding:") && lower.contains("chunked");
            }
            if (!chunked) {
                return new RawResponse(status, new String(in.readNBytes(length), StandardCharsets.UTF_8));
            }
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            for (int size = chunkSize(in); size > 0; size = chunkSize(in)) {
                body.write(in.readNBytes(size));
                in.readNBytes(2); // CRLF
            }
            in.readNBytes(2); // the last chunk's CRLF
            return new RawResponse(status, body.toString(StandardCharsets.UTF_8));
        }

        private static int chunkSize(InputStream in) throws IOException {
            StringBuilder line = new StringBuilder();
            int b;
            while ((b = in.read()) >= 0 && b != '\n') {
                if (b != '\r') {
                    line.append((char) b);
                }
            }
            return line.length() == 0 ? 0 : Integer.parseInt(line.toString().split(";")[0].trim(), 16);
        }
    }

    /**
     * A provider on 127.0.0.1 that reads each request and never answers; counts the requests, the connections open
     * and the connections its caller (Caravan) closed.
     */
    static final class HangingUpstream implements AutoCloseable {
        final ServerSocket server;
        final AtomicInteger received = new AtomicInteger();
        final AtomicInteger open = new AtomicInteger();
        final AtomicInteger dropped = new AtomicInteger();
        final ExecutorService connections = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "hanging-upstream");
            t.setDaemon(true);
            return t;
        });

        HangingUpstream() throws IOException {
            server = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
            connections.submit(this::accept);
        }

        int port() {
            return server.getLocalPort();
        }

        private Void accept() {
            while (!server.isClosed()) {
                try {
                    Socket socket = server.accept();
                    open.incrementAndGet();
                    connections.submit(() -> hold(socket));
                } catch (IOException e) {
                    return null;
                }
            }
            return null;
        }

        private Void hold(Socket socket) {
            try (socket) {
                socket.setSoTimeout(90_000);
                InputStream in = socket.getInputStream();
                int b;
                int crlf = 0;
                while (crlf < 4 && (b = in.read()) >= 0) { // the head; the body is left unread
                    crlf = (b == '\r' || b == '\n') ? crlf + 1 : 0;
                }
                received.incrementAndGet();
                while (in.read() >= 0) {
                    // the body, then nothing: wait for the caller to give up
                }
                dropped.incrementAndGet();
            } catch (IOException e) {
                dropped.incrementAndGet();
            } finally {
                open.decrementAndGet();
            }
            return null;
        }

        @Override
        public void close() throws IOException {
            server.close();
            connections.shutdownNow();
        }
    }
}
