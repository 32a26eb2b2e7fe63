package io.caravan.provider;

import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The few HTTP calls of the batch APIs (upload, create, status, download, cancel): rare, not on any task's hot
 * path, so a plain JDK client serves them. Bodies read whole are bounded; results are streamed.
 */
public final class BatchHttp {

    /** A whole answer: its status, headers (names as sent) and body. */
    public record Answer(int status, Map<String, Object> headers, byte[] body) {
        public boolean ok() {
            return status >= 200 && status < 300;
        }

        /** A success's JSON object; anything else is thrown, classified by {@code error} as the same answer online. */
        public com.fasterxml.jackson.databind.JsonNode json(String api,
                java.util.function.Function<Answer, ProviderError> error) {
            if (!ok()) {
                throw error.apply(this);
            }
            return AdapterSupport.parseSuccess(status, body, api);
        }
    }

    private final HttpClient client;
    private final Duration timeout;
    private final long maxBodyBytes;

    public BatchHttp(Duration timeout, long maxBodyBytes) {
        this.client = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NORMAL)
                .build();
        this.timeout = timeout;
        this.maxBodyBytes = maxBodyBytes;
    }

    public Answer get(String url, Map<String, String> headers) {
        return send(request(url, headers).GET().build());
    }

    public Answer post(String url, Map<String, String> headers, byte[] body) {
        return send(request(url, headers).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
    }

    /** A GET whose body (a results file) is streamed; non-2xx answers are read whole and returned as such. */
    public InputStream stream(String url, Map<String, String> headers, java.util.function.Function<Answer,
            ProviderError> onError) {
        // a results file may take a while: the whole download is bounded only by the socket's own progress
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).GET()
                .headers(flatten(headers)).build();
        try {
            HttpResponse<InputStream> response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
            if (response.statusCode() < 200 || response.statusCode() >= 300) {
                byte[] body;
                try (InputStream in = response.body()) {
                    body = in.readNBytes((int) Math.min(maxBodyBytes, 64 * 1024));
                }
                throw onError.apply(new Answer(response.statusCode(), headersOf(response), body));
            }
            return response.body();
        } catch (IOException e) {
            throw connection(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ProviderError(ErrorClass.CONNECTION, null, "interrupted");
        }
    }

    private HttpRequest.Builder request(String url, Map<String, String> headers) {
        return HttpRequest.newBuilder(URI.create(url)).timeout(timeout).headers(flatten(headers));
    }

    private Answer send(HttpRequest request) {
        try {
            HttpResponse<InputStream> response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
            byte[] body;
            try (InputStream in = response.body()) {
                body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBodyBytes + 1));
            }
            if (body.length > maxBodyBytes) {
                throw new ProviderError(ErrorClass.RESPONSE_TOO_LARGE, response.statusCode(),
                        "batch API answer over " + maxBodyBytes + " bytes");
            }
            return new Answer(response.statusCode(), headersOf(response), body);
        } catch (HttpTimeoutException e) {
            throw new ProviderError(ErrorClass.TIMEOUT, null, "batch API call timed out: " + e.getMessage());
        } catch (IOException e) {
            throw connection(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ProviderError(ErrorClass.CONNECTION, null, "interrupted");
        }
    }

    private static ProviderError connection(IOException e) {
        return new ProviderError(ErrorClass.CONNECTION, null, "batch API unreachable: " + e);
    }

    private static Map<String, Object> headersOf(HttpResponse<?> response) {
        Map<String, Object> headers = new LinkedHashMap<>();
        response.headers().map().forEach((k, v) -> headers.put(k, v.size() == 1 ? v.get(0) : List.copyOf(v)));
        return headers;
    }

    private static String[] flatten(Map<String, String> headers) {
        String[] out = new String[headers.size() * 2];
        int i = 0;
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (e.getKey().equalsIgnoreCase("Content-Length") || e.getKey().equalsIgnoreCase("Host")) {
                continue;
            }
            out[i++] = e.getKey();
            out[i++] = e.getValue();
        }
        return java.util.Arrays.copyOf(out, i);
    }
}
