package io.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.caravan.util.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A careless provider on 127.0.0.1 that quotes the credential it was sent (Authorization, x-api-key,
 * x-goog-api-key or {@code ?key=}) in its errors, in the API's own error format: a plain call gets a 400 (401 when
 * the request says {@code ANSWER-401}); a streaming call gets 200, one delta, then an error event. It counts the
 * credentials it echoed, so a test knows the key really came back to Caravan.
 */
final class KeyEchoUpstream implements AutoCloseable {

    private final HttpServer server;
    private final ExecutorService pool = Executors.newFixedThreadPool(4);
    private final Map<String, AtomicInteger> echoed = new ConcurrentHashMap<>();

    KeyEchoUpstream() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        server.setExecutor(pool);
        server.createContext("/", this::handle);
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    /** How many answers quoted this credential. */
    int echoes(String credential) {
        AtomicInteger n = echoed.get(credential);
        return n == null ? 0 : n.get();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String request = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            String path = exchange.getRequestURI().getPath();
            String auth = exchange.getRequestHeaders().getFirst("Authorization");
            String credential = auth != null ? auth.replaceFirst("(?i)^bearer\\s+", "")
                    : exchange.getRequestHeaders().getFirst("x-api-key") != null
                            ? exchange.getRequestHeaders().getFirst("x-api-key")
                            : exchange.getRequestHeaders().getFirst("x-goog-api-key");
            String query = exchange.getRequestURI().getRawQuery();
            if (credential == null && query != null && query.contains("key=")) {
                credential = query.substring(query.indexOf("key=") + 4).split("&")[0];
            }
            echoed.computeIfAbsent(String.valueOf(credential), k -> new AtomicInteger()).incrementAndGet();
            String api = path.contains(":") ? "gemini" : path.endsWith("/messages") ? "anthropic" : "openai";
            boolean stream = path.contains(":streamGenerateContent") || request.contains("\"stream\":true");
            if (stream) {
                send(exchange, 200, "text/event-stream", streamed(api, credential, auth));
            } else {
                int status = request.contains("ANSWER-401") ? 401 : 400;
                send(exchange, status, "application/json", Json.MAPPER.writeValueAsString(error(api, status,
                        credential, auth)));
            }
        }
    }

    /** The API's error object quoting the credential: bare, as its header came, and in a request URL. */
    private static ObjectNode error(String api, int status, String credential, String auth) {
        String text = "Request rejected for key " + credential + " (sent as '"
                + (auth != null ? "Authorization: " + auth : credential) + "', see https://api.example/v1?key="
                + credential + ")";
        ObjectNode root = Json.object();
        ObjectNode error = root.putObject("error");
        switch (api) {
            case "anthropic" -> {
                root.put("type", "error");
                error.put("type", status == 401 ? "authentication_error" : "invalid_request_error");
                error.put("message", text);
            }
            case "gemini" -> {
                error.put("code", status);
                error.put("message", text);
                error.put("status", status == 401 ? "UNAUTHENTICATED" : "INVALID_ARGUMENT");
            }
            default -> {
                error.put("message", text);
                error.put("type", "invalid_request_error");
                error.put("code", status == 401 ? "invalid_api_key" : "invalid_request");
            }
        }
        return root;
    }

    private static String streamed(String api, String credential, String auth) throws IOException {
        String error = Json.MAPPER.writeValueAsString(error(api, 401, credential, auth));
        return switch (api) {
            case "anthropic" -> """
                    event: message_start
                    data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","usage":{"input_tokens":5,"output_tokens":1}}}

                    event: content_block_start
                    data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

                    event: content_block_delta
                    data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}

                    event: error
                    data: %s

                    """.formatted(error);
            case "gemini" -> """
                    data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}]}

                    data: %s

                    """.formatted(error);
            default -> """
                    data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}

                    data: %s

                    """.formatted(error);
        };
    }

    private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() throws InterruptedException {
        server.stop(0);
        pool.shutdownNow();
        pool.awaitTermination(5, TimeUnit.SECONDS);
    }
}
