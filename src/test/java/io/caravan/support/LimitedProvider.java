package io.caravan.support;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * An OpenAI-compatible provider on 127.0.0.1 that enforces a rate limit the way providers do: at most
 * {@code limit} requests per key in each fixed window (windows on multiples of {@code windowMs} since the epoch,
 * like a per-minute counter), 429 with {@code Retry-After}/{@code retry-after-ms} above it, and
 * {@code x-ratelimit-remaining-requests}/{@code x-ratelimit-reset-requests} on every answer. Keys put
 * {@link #outOfCredit out of credit} get 402. Every request is logged (time, key, status) for the test to count.
 *
 * <p>The JDK's HttpServer keeps at most {@code sun.net.httpserver.maxIdleConnections} (200) idle keep-alive
 * connections and silently closes every one beyond them right after answering; the client's next request on such a
 * connection then fails ({@code NoHttpResponseException}, reset). Loads of hundreds of concurrent calls (the fleet
 * bench) must lift it: {@code bench/fleet.sh} passes {@code -Dsun.net.httpserver.maxIdleConnections=100000}.
 */
public final class LimitedProvider implements AutoCloseable {

    /** One request as the provider saw it. */
    public record Seen(long atMillis, String key, int status) {}

    private final HttpServer server;
    private final ExecutorService pool = Executors.newFixedThreadPool(64);
    private final int limit;
    private final long windowMs;
    private final long latencyMs;
    private final Map<String, long[]> windows = new ConcurrentHashMap<>();
    private final Set<String> outOfCredit = ConcurrentHashMap.newKeySet();
    private final List<Seen> seen = new ArrayList<>();

    public LimitedProvider(int limit, long windowMs, long latencyMs) throws IOException {
        this.limit = limit;
        this.windowMs = windowMs;
        this.latencyMs = latencyMs;
        // a window's start sees hundreds of calls at once: a short accept queue would refuse connections
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 4096);
        server.createContext("/", this::handle);
        server.setExecutor(pool);
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** The catalog's provider block for this mock (api openai, no retries of its own). */
    public String provider(String name, String keys, String extra) {
        return """
                  %1$s:
                    api: openai
                    base_url: http://127.0.0.1:%2$d/v1
                    api_keys: [%3$s]
                    timeout: 5s
                    retries: 0
                    backoff: 50ms
                """.formatted(name, port(), keys) + (extra == null || extra.isBlank() ? "" : extra.indent(4));
    }

    private volatile boolean headroom = true;

    /** Answers without rate-limit headers from now on (a provider that does not send them). */
    public LimitedProvider withoutHeadroom() {
        headroom = false;
        return this;
    }

    public void outOfCredit(String key) {
        outOfCredit.add(key);
    }

    public List<Seen> seen() {
        synchronized (seen) {
            return List.copyOf(seen);
        }
    }

    public long count(int status) {
        return seen().stream().filter(s -> s.status() == status).count();
    }

    /** The requests let through (200) per window of this key, by window start. */
    public Map<Long, Integer> acceptedPerWindow(String key) {
        Map<Long, Integer> out = new TreeMap<>();
        for (Seen s : seen()) {
            if (s.status() == 200 && s.key().equals(key)) {
                out.merge(s.atMillis() - Math.floorMod(s.atMillis(), windowMs), 1, Integer::sum);
            }
        }
        return out;
    }

    /** Requests of any status sent with this key per window (what the provider counted against it). */
    public Map<Long, Integer> sentPerWindow(String key) {
        Map<Long, Integer> out = new TreeMap<>();
        for (Seen s : seen()) {
            if (s.key().equals(key)) {
                out.merge(s.atMillis() - Math.floorMod(s.atMillis(), windowMs), 1, Integer::sum);
            }
        }
        return out;
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            in.readAllBytes();
        }
        String auth = exchange.getRequestHeaders().getFirst("Authorization");
        String key = auth == null ? "" : auth.replaceFirst("(?i)^Bearer\\s+", "");
        long now = System.currentTimeMillis();
        long start = now - Math.floorMod(now, windowMs);
        long resetMs = start + windowMs - now;
        int status;
        long remaining;
        if (outOfCredit.contains(key)) {
            status = 402;
            remaining = 0;
        } else {
            long[] w = windows.computeIfAbsent(key, k -> new long[2]);
            synchronized (w) {
                if (w[0] != start) {
                    w[0] = start;
                    w[1] = 0;
                }
                // like providers, a refused request does not count against the limit
                status = w[1] < limit ? 200 : 429;
                if (status == 200) {
                    w[1]++;
                }
                remaining = Math.max(0, limit - w[1]);
            }
        }
        synchronized (seen) {
            seen.add(new Seen(now, key, status));
        }
        if (latencyMs > 0) {
            try {
                Thread.sleep(latencyMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        var headers = exchange.getResponseHeaders();
        headers.add("Content-Type", "application/json");
        if (headroom) {
            headers.add("x-ratelimit-limit-requests", String.valueOf(limit));
            headers.add("x-ratelimit-remaining-requests", String.valueOf(remaining));
            headers.add("x-ratelimit-reset-requests", resetMs + "ms");
        }
        String body;
        if (status == 429) {
            headers.add("retry-after-ms", String.valueOf(resetMs));
            headers.add("Retry-After", String.valueOf((resetMs + 999) / 1000));
            body = Upstreams.error("Rate limit reached for requests", "requests", "rate_limit_exceeded");
        } else if (status == 402) {
            body = Upstreams.error("Insufficient Balance", "unknown_error", "invalid_request_error");
        } else {
            body = Upstreams.completion("ok", 10, 0, 5);
        }
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
