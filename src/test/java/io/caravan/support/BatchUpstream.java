package io.caravan.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.caravan.util.Json;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A provider with the OpenAI Batch API (files + batches, as OpenAI, DashScope and Moonshot have it) and the online chat
 * API, on 127.0.0.1. A batch moves validating -> in_progress -> completed over polls; its output file has the rows in
 * reverse order; a request whose text holds {@code BAD-ROW} gets a 400 in the error file. {@link Mode} makes batches
 * never finish, expire with half their rows, or wait until {@link #release()}. Every answer uses 100 prompt and 20
 * completion tokens.
 */
public final class BatchUpstream implements AutoCloseable {

    public enum Mode { COMPLETE, NEVER, EXPIRE, HOLD }

    public static final long PROMPT = 100;
    public static final long COMPLETION = 20;

    private final HttpServer server;
    private final Map<String, List<String>> files = new ConcurrentHashMap<>();
    private final Map<String, Batch> batches = new ConcurrentHashMap<>();
    private final AtomicInteger ids = new AtomicInteger();
    public final AtomicInteger creates = new AtomicInteger();
    public final AtomicInteger online = new AtomicInteger();
    public final AtomicInteger cancels = new AtomicInteger();
    public final AtomicInteger refusedCreates = new AtomicInteger();
    private volatile int refuseNextCreates;
    private volatile Mode mode = Mode.COMPLETE;
    private volatile boolean released;

    private static final class Batch {
        final String id;
        final String inputFile;
        volatile String status = "validating";
        volatile int polls;
        volatile String output;
        volatile String errors;

        Batch(String id, String inputFile) {
            this.id = id;
            this.inputFile = inputFile;
        }
    }

    public BatchUpstream() throws IOException {
        // a backlog and threads for a few hundred online calls at once (the benchmark's online leg)
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 1024);
        server.setExecutor(Executors.newFixedThreadPool(32));
        server.createContext("/", this::handle);
        server.start();
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    public void mode(Mode mode) {
        this.mode = mode;
    }

    public void refuseNextCreates(int n) {
        this.refuseNextCreates = n;
    }

    /** A HOLD batch completes on its next poll. */
    public void release() {
        released = true;
    }

    /** Requests in all batches created so far. */
    public int batchedRequests() {
        return batches.values().stream().mapToInt(b -> files.get(b.inputFile).size()).sum();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            byte[] body = ex.getRequestBody().readAllBytes();
            String method = ex.getRequestMethod();
            if (method.equals("POST") && path.equals("/v1/chat/completions")) {
                online.incrementAndGet();
                JsonNode req = Json.MAPPER.readTree(body);
                send(ex, 200, completion("online answer to " + text(req)));
            } else if (method.equals("POST") && path.equals("/v1/files")) {
                String id = "file-" + ids.incrementAndGet();
                files.put(id, jsonl(new String(body, StandardCharsets.UTF_8)));
                send(ex, 200, "{\"id\":\"" + id + "\",\"object\":\"file\",\"purpose\":\"batch\"}");
            } else if (method.equals("POST") && path.equals("/v1/batches")) {
                if (refuseNextCreates > 0) {
                    refuseNextCreates--;
                    refusedCreates.incrementAndGet();
                    send(ex, 429, "{\"error\":{\"message\":\"Enqueued token limit reached\",\"type\":\"rate_limit_error\","
                            + "\"code\":\"rate_limit_exceeded\"}}");
                    return;
                }
                JsonNode req = Json.MAPPER.readTree(body);
                String file = req.get("input_file_id").asText();
                if (!files.containsKey(file)) {
                    send(ex, 400, "{\"error\":{\"message\":\"no such file\",\"type\":\"invalid_request_error\"}}");
                    return;
                }
                Batch b = new Batch("batch_" + ids.incrementAndGet(), file);
                batches.put(b.id, b);
                creates.incrementAndGet();
                send(ex, 200, view(b));
            } else if (method.equals("GET") && path.startsWith("/v1/batches/")) {
                Batch b = batches.get(path.substring("/v1/batches/".length()));
                if (b == null) {
                    send(ex, 404, "{\"error\":{\"message\":\"no such batch\"}}");
                    return;
                }
                advance(b);
                send(ex, 200, view(b));
            } else if (method.equals("POST") && path.endsWith("/cancel")) {
                Batch b = batches.get(path.substring("/v1/batches/".length(), path.length() - "/cancel".length()));
                cancels.incrementAndGet();
                b.status = "cancelled";
                send(ex, 200, view(b));
            } else if (method.equals("GET") && path.startsWith("/v1/files/") && path.endsWith("/content")) {
                List<String> lines = files.get(path.substring("/v1/files/".length(), path.length() - "/content".length()));
                send(ex, 200, lines == null ? "" : String.join("\n", lines) + "\n");
            } else {
                send(ex, 404, "{\"error\":{\"message\":\"not here\"}}");
            }
        } catch (RuntimeException e) {
            send(ex, 500, "{\"error\":{\"message\":\"test server: " + e + "\"}}");
        }
    }

    private synchronized void advance(Batch b) {
        b.polls++;
        if (!b.status.equals("validating") && !b.status.equals("in_progress")) {
            return;
        }
        if (b.polls == 1) {
            b.status = "in_progress";
            return;
        }
        switch (mode) {
            case NEVER -> b.status = "in_progress";
            case HOLD -> {
                if (released) {
                    finish(b, false);
                }
            }
            case EXPIRE -> finish(b, true);
            default -> {
                if (b.polls >= 3) {
                    finish(b, false);
                }
            }
        }
    }

    private void finish(Batch b, boolean expire) {
        List<String> input = files.get(b.inputFile);
        List<String> out = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        for (int i = 0; i < input.size(); i++) {
            JsonNode line = Json.MAPPER.valueToTree(parse(input.get(i)));
            String customId = line.get("custom_id").asText();
            String text = text(line.get("body"));
            if (expire && i >= input.size() / 2) {
                errors.add("{\"id\":\"r" + i + "\",\"custom_id\":\"" + customId + "\",\"response\":null,\"error\":"
                        + "{\"code\":\"batch_expired\",\"message\":\"This request could not be executed before the "
                        + "completion window expired.\"}}");
            } else if (text.contains("BAD-ROW")) {
                errors.add("{\"id\":\"r" + i + "\",\"custom_id\":\"" + customId + "\",\"response\":{\"status_code\":400,"
                        + "\"body\":{\"error\":{\"message\":\"Invalid 'messages': bad row\",\"type\":"
                        + "\"invalid_request_error\"}}},\"error\":null}");
            } else {
                out.add("{\"id\":\"r" + i + "\",\"custom_id\":\"" + customId + "\",\"response\":{\"status_code\":200,"
                        + "\"request_id\":\"q" + i + "\",\"body\":" + completion("batch answer to " + text)
                        + "},\"error\":null}");
            }
        }
        Collections.reverse(out); // rows come in any order
        String outId = "file-" + ids.incrementAndGet();
        files.put(outId, out);
        b.output = outId;
        if (!errors.isEmpty()) {
            String errId = "file-" + ids.incrementAndGet();
            files.put(errId, errors);
            b.errors = errId;
        }
        b.status = expire ? "expired" : "completed";
    }

    private static String view(Batch b) {
        ObjectNode n = Json.object();
        n.put("id", b.id);
        n.put("object", "batch");
        n.put("endpoint", "/v1/chat/completions");
        n.put("input_file_id", b.inputFile);
        n.put("completion_window", "24h");
        n.put("status", b.status);
        n.put("output_file_id", b.output);
        n.put("error_file_id", b.errors);
        return Json.MAPPER.valueToTree(n).toString();
    }

    private static Object parse(String line) {
        try {
            return Json.MAPPER.readTree(line);
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** The JSONL file part of a multipart upload. */
    private static List<String> jsonl(String multipart) {
        List<String> lines = new ArrayList<>();
        for (String line : multipart.split("\r?\n")) {
            if (line.startsWith("{") && line.contains("\"custom_id\"")) {
                lines.add(line.trim());
            }
        }
        return lines;
    }

    private static String text(JsonNode body) {
        JsonNode messages = body.path("messages");
        return messages.isArray() && !messages.isEmpty() ? messages.get(messages.size() - 1).path("content").asText()
                : "";
    }

    private static String completion(String content) {
        return Upstreams.completion(content.replace("\"", "'"), PROMPT, 0, COMPLETION).replace("\n", " ");
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            ex.getResponseBody().write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
