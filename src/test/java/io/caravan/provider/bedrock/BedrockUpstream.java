package io.caravan.provider.bedrock;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.eventstream.HeaderValue;
import software.amazon.awssdk.eventstream.Message;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.SdkHttpFullRequest;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;

/**
 * Bedrock Runtime on 127.0.0.1 that checks what AWS checks: it recomputes each request's SigV4 signature from the
 * request as it arrived (method, raw path, the signed headers, the body) with the AWS SDK's own signer and the
 * secret it knows for the access key, at the request's own {@code X-Amz-Date}; a mismatch is AWS's 403
 * {@code InvalidSignatureException}. Answers come from {@code answers}, by raw path.
 */
final class BedrockUpstream implements AutoCloseable {

    record Answer(int status, Map<String, String> headers, byte[] body) {}

    record Seen(String rawPath, String body, Map<String, List<String>> headers, boolean signatureValid) {}

    private static final Pattern AUTH = Pattern.compile(
            "AWS4-HMAC-SHA256 Credential=([^/]+)/(\\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)");
    private static final DateTimeFormatter AMZ_DATE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
            .withZone(ZoneOffset.UTC);

    final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final HttpServer server;
    private final Map<String, String> secrets;
    private final String sessionToken;
    private final Function<String, Answer> answers;

    BedrockUpstream(Map<String, String> secrets, String sessionToken, Function<String, Answer> answers)
            throws IOException {
        this.secrets = secrets;
        this.sessionToken = sessionToken;
        this.answers = answers;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.createContext("/", this::handle);
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        byte[] body = exchange.getRequestBody().readAllBytes();
        String rawPath = exchange.getRequestURI().getRawPath();
        boolean valid = signatureValid(exchange, body);
        seen.add(new Seen(rawPath, new String(body, StandardCharsets.UTF_8), Map.copyOf(exchange.getRequestHeaders()),
                valid));
        Answer answer = valid ? answers.apply(rawPath) : new Answer(403,
                Map.of("x-amzn-ErrorType", "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/",
                        "Content-Type", "application/json"),
                bytes("{\"message\":\"The request signature we calculated does not match the signature you provided. "
                        + "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\"}"));
        answer.headers().forEach((k, v) -> exchange.getResponseHeaders().add(k, v));
        exchange.sendResponseHeaders(answer.status(), answer.body().length == 0 ? -1 : answer.body().length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(answer.body());
        }
    }

    private boolean signatureValid(HttpExchange exchange, byte[] body) {
        String authorization = exchange.getRequestHeaders().getFirst("Authorization");
        Matcher m = authorization == null ? null : AUTH.matcher(authorization);
        if (m == null || !m.matches() || !secrets.containsKey(m.group(1)) || !"bedrock".equals(m.group(4))) {
            return false;
        }
        String date = exchange.getRequestHeaders().getFirst("X-Amz-Date");
        if (date == null) {
            return false;
        }
        Instant at = AMZ_DATE.parse(date, Instant::from);
        String host = exchange.getRequestHeaders().getFirst("Host");
        String query = exchange.getRequestURI().getRawQuery();
        SdkHttpFullRequest.Builder request = SdkHttpFullRequest.builder().method(SdkHttpMethod.POST)
                .uri(URI.create("http://" + host + exchange.getRequestURI().getRawPath()
                        + (query == null ? "" : "?" + query)));
        for (String name : m.group(5).split(";")) {
            if (!name.equals("host") && !name.equals("x-amz-date") && !name.equals("x-amz-security-token")) {
                String value = exchange.getRequestHeaders().getFirst(name);
                if (value == null) {
                    return false;
                }
                request.putHeader(name, value);
            }
        }
        String token = exchange.getRequestHeaders().getFirst("X-Amz-Security-Token");
        if (sessionToken != null && !sessionToken.equals(token)) {
            return false;
        }
        var credentials = AwsSessionCredentials.create(m.group(1), secrets.get(m.group(1)), sessionToken);
        var signed = AwsV4HttpSigner.create().sign(r -> r.identity(credentials).request(request.build())
                .payload(ContentStreamProvider.fromByteArray(body))
                .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, "bedrock")
                .putProperty(AwsV4HttpSigner.REGION_NAME, m.group(3))
                .putProperty(AwsV4HttpSigner.SIGNING_CLOCK, Clock.fixed(at, ZoneOffset.UTC)));
        return authorization.equals(signed.request().firstMatchingHeader("Authorization").orElse(null));
    }

    static Answer json(int status, String body, String errorType) {
        return new Answer(status, errorType == null ? Map.of("Content-Type", "application/json")
                : Map.of("Content-Type", "application/json", "x-amzn-ErrorType", errorType), bytes(body));
    }

    /** An event-stream body of these events (name → JSON payload), framed by the AWS SDK's encoder (valid CRCs). */
    static Answer events(String... nameAndPayload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < nameAndPayload.length; i += 2) {
            frame(nameAndPayload[i], nameAndPayload[i + 1]).encode(out);
        }
        return new Answer(200, Map.of("Content-Type", "application/vnd.amazon.eventstream"), out.toByteArray());
    }

    static Message frame(String event, String payload) {
        boolean exception = event.startsWith("!");
        Map<String, HeaderValue> headers = new java.util.LinkedHashMap<>();
        headers.put(":message-type", HeaderValue.fromString(exception ? "exception" : "event"));
        headers.put(exception ? ":exception-type" : ":event-type", HeaderValue.fromString(exception
                ? event.substring(1) : event));
        headers.put(":content-type", HeaderValue.fromString("application/json"));
        return new Message(headers, bytes(payload));
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
