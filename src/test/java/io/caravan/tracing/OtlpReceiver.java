package io.caravan.tracing;

import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.trace.v1.Span;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Headers;
import okhttp3.Protocol;
import okio.Buffer;

/**
 * A collector's OTLP side on 127.0.0.1, as small as a test needs, over HTTP ({@link #OtlpReceiver()}:
 * {@code /v1/traces} and {@code /v1/metrics} take protobuf requests and answer 200) or gRPC ({@link #grpc()}: HTTP/2
 * without TLS, the gRPC-framed export calls of the trace and metrics services, answered with {@code grpc-status: 0}
 * in the trailers). It keeps the spans, metrics, paths and headers it was sent.
 */
final class OtlpReceiver implements AutoCloseable {

    static final String GRPC_TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    static final String GRPC_METRICS = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

    final List<Span> spans = new CopyOnWriteArrayList<>();
    final List<Metric> metrics = new CopyOnWriteArrayList<>();
    final List<String> requests = new CopyOnWriteArrayList<>();
    /** Every request's headers, names lower-cased. */
    final List<Map<String, String>> headers = new CopyOnWriteArrayList<>();
    private final String endpoint;
    private final AutoCloseable server;

    OtlpReceiver() throws IOException {
        HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        http.createContext("/v1/traces", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                received(exchange.getRequestURI().getPath(), exchange.getRequestHeaders());
                traces(ExportTraceServiceRequest.parseFrom(in));
                answer(exchange, ExportTraceServiceResponse.getDefaultInstance().toByteArray());
            }
        });
        http.createContext("/v1/metrics", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                received(exchange.getRequestURI().getPath(), exchange.getRequestHeaders());
                metrics(ExportMetricsServiceRequest.parseFrom(in));
                answer(exchange, ExportMetricsServiceResponse.getDefaultInstance().toByteArray());
            }
        });
        ExecutorService executor = Executors.newFixedThreadPool(4);
        http.setExecutor(executor);
        http.start();
        endpoint = "http://127.0.0.1:" + http.getAddress().getPort();
        server = () -> {
            http.stop(0);
            executor.shutdownNow();
        };
    }

    private OtlpReceiver(MockWebServer grpc) {
        grpc.setProtocols(List.of(Protocol.H2_PRIOR_KNOWLEDGE));
        grpc.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                Map<String, List<String>> names = request.getHeaders().toMultimap();
                received(request.getUrl().encodedPath(), names);
                try {
                    byte[] message = grpcMessage(request.getBody() == null ? new byte[0] : request.getBody().toByteArray());
                    byte[] reply;
                    switch (request.getUrl().encodedPath()) {
                        case GRPC_TRACES -> {
                            traces(ExportTraceServiceRequest.parseFrom(message));
                            reply = ExportTraceServiceResponse.getDefaultInstance().toByteArray();
                        }
                        case GRPC_METRICS -> {
                            metrics(ExportMetricsServiceRequest.parseFrom(message));
                            reply = ExportMetricsServiceResponse.getDefaultInstance().toByteArray();
                        }
                        default -> {
                            return grpcStatus(12, "unimplemented"); // UNIMPLEMENTED
                        }
                    }
                    return new MockResponse.Builder().code(200).addHeader("content-type", "application/grpc")
                            .body(new Buffer().write(grpcFrame(reply)))
                            .trailers(Headers.of("grpc-status", "0")).build();
                } catch (IOException | RuntimeException e) {
                    return grpcStatus(3, "cannot read the request: " + e); // INVALID_ARGUMENT
                }
            }
        });
        endpoint = "http://127.0.0.1:" + grpc.getPort();
        server = grpc;
    }

    /** An OTLP/gRPC receiver (what a collector listens with on 4317). */
    static OtlpReceiver grpc() throws IOException {
        MockWebServer server = new MockWebServer();
        server.start(InetAddress.getLoopbackAddress(), 0);
        return new OtlpReceiver(server);
    }

    private void received(String path, Map<String, List<String>> requestHeaders) {
        Map<String, String> lower = new java.util.HashMap<>();
        requestHeaders.forEach((name, values) -> lower.put(name.toLowerCase(java.util.Locale.ROOT), String.join(",", values)));
        headers.add(lower);
        requests.add(path);
    }

    private void traces(ExportTraceServiceRequest request) {
        request.getResourceSpansList().forEach(rs -> rs.getScopeSpansList().forEach(ss -> spans.addAll(ss.getSpansList())));
    }

    private void metrics(ExportMetricsServiceRequest request) {
        request.getResourceMetricsList().forEach(rm -> rm.getScopeMetricsList()
                .forEach(sm -> metrics.addAll(sm.getMetricsList())));
    }

    /** A gRPC length-prefixed message: flag 0 (not compressed), 4-byte big-endian length, the bytes. */
    private static byte[] grpcMessage(byte[] body) throws IOException {
        if (body.length < 5 || body[0] != 0) {
            throw new IOException("not one uncompressed gRPC message (" + body.length + " bytes)");
        }
        int length = ByteBuffer.wrap(body, 1, 4).getInt();
        if (length != body.length - 5) {
            throw new IOException("gRPC length " + length + " for " + (body.length - 5) + " bytes");
        }
        return java.util.Arrays.copyOfRange(body, 5, body.length);
    }

    private static byte[] grpcFrame(byte[] message) {
        return ByteBuffer.allocate(5 + message.length).put((byte) 0).putInt(message.length).put(message).array();
    }

    private static MockResponse grpcStatus(int status, String message) {
        return new MockResponse.Builder().code(200).addHeader("content-type", "application/grpc")
                .addHeader("grpc-status", status).addHeader("grpc-message", message).build();
    }

    private static void answer(com.sun.net.httpserver.HttpExchange exchange, byte[] body) throws IOException {
        exchange.getResponseHeaders().add("Content-Type", "application/x-protobuf");
        exchange.sendResponseHeaders(200, body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
    }

    String endpoint() {
        return endpoint;
    }

    List<Span> inTrace(String traceId) {
        return spans.stream().filter(s -> HexFormat.of().formatHex(s.getTraceId().toByteArray()).equals(traceId))
                .toList();
    }

    static String hex(com.google.protobuf.ByteString id) {
        return HexFormat.of().formatHex(id.toByteArray());
    }

    static String attribute(Span span, String key) {
        return span.getAttributesList().stream().filter(a -> a.getKey().equals(key)).findFirst()
                .map(a -> a.getValue().hasStringValue() ? a.getValue().getStringValue()
                        : a.getValue().hasIntValue() ? Long.toString(a.getValue().getIntValue())
                        : a.getValue().hasDoubleValue() ? Double.toString(a.getValue().getDoubleValue())
                        : a.getValue().hasBoolValue() ? Boolean.toString(a.getValue().getBoolValue())
                        : a.getValue().toString())
                .orElse(null);
    }

    @Override
    public void close() throws Exception {
        server.close();
    }
}
