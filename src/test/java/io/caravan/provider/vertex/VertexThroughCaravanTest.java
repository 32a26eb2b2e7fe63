package io.caravan.provider.vertex;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.caravan.resilience.KeyPool;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.util.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code api: vertex} through a whole Caravan: Google's auth library signs a JWT with the service account's key and
 * trades it at the key file's {@code token_uri}, a token endpoint on 127.0.0.1 that checks the RS256 signature with
 * the public key, the audience and the scope, and hands out tokens that live 60 s; the library must fetch a fresh
 * one before the next call rather than use one about to expire. Vertex on the same server answers at its URL shape
 * (plain and streaming) only for the current token.
 */
class VertexThroughCaravanTest {

    static final String EMAIL = "caravan-test@proj-1.iam.gserviceaccount.com";
    static final String PATH = "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash";

    static HttpServer server;
    static KeyPair keys;
    static Path dir;
    static Caravan caravan;
    static final AtomicInteger issued = new AtomicInteger();
    static final List<String> grantProblems = new CopyOnWriteArrayList<>();
    static final List<String> bearers = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        keys = generator.generateKeyPair();
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.createContext("/token", VertexThroughCaravanTest::token);
        server.createContext("/v1/", VertexThroughCaravanTest::vertex);
        server.start();
        String tokenUri = "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
        String pem = "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(keys.getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n";
        var keyFile = Json.object().put("type", "service_account").put("project_id", "proj-1")
                .put("private_key_id", "kid-1").put("private_key", pem).put("client_email", EMAIL)
                .put("client_id", "1234567890").put("token_uri", tokenUri);
        dir = Files.createTempDirectory("vertex-test");
        Path file = dir.resolve("sa.json");
        Files.writeString(file, keyFile.toString());
        caravan = Caravan.start("""
                providers:
                  gcp:
                    api: vertex
                    project: proj-1
                    region: us-central1
                    credentials_file: %s
                    base_url: http://127.0.0.1:%d
                    retries: 0
                models:
                  - {name: flash, provider: gcp, model: gemini-2.5-flash, price: {input: 0.30, cached_input: 0.03, output: 2.50}}
                tiers:
                  balanced: {model: flash}
                default_tier: balanced
                """.formatted(file, server.getAddress().getPort()));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            caravan.close();
        } finally {
            server.stop(0);
            ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
            Files.walk(dir).sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** The OAuth2 JWT-bearer grant, checked as Google's token endpoint checks it. */
    static void token(HttpExchange exchange) throws IOException {
        Map<String, String> form = new HashMap<>();
        for (String pair : new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8).split("&")) {
            int eq = pair.indexOf('=');
            form.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                    URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        String problem = null;
        try {
            if (!"urn:ietf:params:oauth:grant-type:jwt-bearer".equals(form.get("grant_type"))) {
                problem = "grant_type " + form.get("grant_type");
            } else {
                String[] jwt = form.get("assertion").split("\\.");
                Signature rs256 = Signature.getInstance("SHA256withRSA");
                rs256.initVerify(keys.getPublic());
                rs256.update((jwt[0] + "." + jwt[1]).getBytes(StandardCharsets.US_ASCII));
                JsonNode claims = Json.MAPPER.readTree(Base64.getUrlDecoder().decode(jwt[1]));
                if (!rs256.verify(Base64.getUrlDecoder().decode(jwt[2]))) {
                    problem = "bad signature";
                } else if (!EMAIL.equals(claims.path("iss").asText())) {
                    problem = "iss " + claims.path("iss").asText();
                } else if (!claims.path("aud").asText().endsWith("/token")) {
                    problem = "aud " + claims.path("aud").asText();
                } else if (!claims.path("scope").asText().contains("https://www.googleapis.com/auth/cloud-platform")) {
                    problem = "scope " + claims.path("scope").asText();
                }
            }
        } catch (Exception e) {
            problem = e.toString();
        }
        if (problem != null) {
            grantProblems.add(problem);
            respond(exchange, 400, "application/json", "{\"error\":\"invalid_grant\",\"error_description\":\"" + problem + "\"}");
            return;
        }
        respond(exchange, 200, "application/json", "{\"access_token\":\"ya29.token-" + issued.incrementAndGet()
                + "\",\"expires_in\":60,\"token_type\":\"Bearer\"}");
    }

    static void vertex(HttpExchange exchange) throws IOException {
        exchange.getRequestBody().readAllBytes();
        String bearer = exchange.getRequestHeaders().getFirst("Authorization");
        bearers.add(bearer);
        if (!("Bearer ya29.token-" + issued.get()).equals(bearer)) {
            respond(exchange, 401, "application/json", """
                    {"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}""");
            return;
        }
        String path = exchange.getRequestURI().getRawPath() + "?" + exchange.getRequestURI().getRawQuery();
        if (path.equals(PATH + ":streamGenerateContent?alt=sse")) {
            respond(exchange, 200, "text/event-stream", """
                    data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Vertex "}]}}]}

                    data: {"candidates":[{"content":{"role":"model","parts":[{"text":"streams"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2}}

                    """);
        } else if (path.equals(PATH + ":generateContent?null")) {
            respond(exchange, 200, "application/json", """
                    {"candidates":[{"content":{"role":"model","parts":[{"text":"from vertex"}]},"finishReason":"STOP"}],
                     "usageMetadata":{"promptTokenCount":1000,"cachedContentTokenCount":800,"candidatesTokenCount":10}}""");
        } else {
            respond(exchange, 404, "application/json", """
                    {"error":{"code":404,"message":"Publisher Model was not found.","status":"NOT_FOUND"}}""");
        }
    }

    static void respond(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Test
    void callsVertexWithAServiceAccountTokenAndFetchesANewOneBeforeTheOldExpires() throws Exception {
        HttpResponse<String> first = caravan.post("/v1/tasks",
                "{\"id\":\"vx-1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
        JsonNode result = Json.MAPPER.readTree(first.body());
        assertThat(result.path("output").path("content").asText()).isEqualTo("from vertex");
        assertThat(result.path("usage").path("cached_input_tokens").asLong()).isEqualTo(800);
        int afterFirst = issued.get();

        HttpResponse<String> second = caravan.post("/v1/tasks",
                "{\"id\":\"vx-2\",\"messages\":[{\"role\":\"user\",\"content\":\"again\"}]}");
        assertThat(second.statusCode()).as(second.body()).isEqualTo(200);
        // a 60-second token is inside the library's expiry margin: the second call brought a fresh one
        assertThat(issued.get()).isGreaterThan(afterFirst);
        assertThat(grantProblems).isEmpty();
        assertThat(bearers).doesNotHaveDuplicates();

        JsonNode usage = usage("vx-2");
        assertThat(usage.path("key_id").asText()).isEqualTo(KeyPool.fingerprint(EMAIL));
        assertThat(usage.toString()).doesNotContain("ya29.").doesNotContain("PRIVATE KEY");
    }

    @Test
    void streamsThroughVertex() throws Exception {
        HttpResponse<String> response = caravan.post("/v1/chat/completions",
                "{\"model\":\"flash\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"s\"}]}");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(io.caravan.support.ChatStream.text(response.body())).isEqualTo("Vertex streams");
    }

    private static JsonNode usage(String taskId) throws Exception {
        List<ConsumerRecord<String, byte[]>> records = TestKafka.readKeys(caravan.usageTopic, List.of(taskId),
                Duration.ofSeconds(30));
        for (ConsumerRecord<String, byte[]> r : records) {
            if (taskId.equals(r.key())) {
                return Json.MAPPER.readTree(new String(r.value(), StandardCharsets.UTF_8));
            }
        }
        throw new AssertionError("no usage event for " + taskId);
    }
}
