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
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A collector's OTLP/HTTP side on 127.0.0.1, as small as a test needs: {@code /v1/traces} and
 * {@code /v1/metrics} take protobuf requests, keep their spans and metrics, and answer 200.
 */
final class OtlpReceiver implements AutoCloseable {

    private final HttpServer server;
    final List<Span> spans = new CopyOnWriteArrayList<>();
    final List<Metric> metrics = new CopyOnWriteArrayList<>();
    final List<String> requests = new CopyOnWriteArrayList<>();

    OtlpReceiver() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.createContext("/v1/traces", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                requests.add(exchange.getRequestURI().getPath());
                ExportTraceServiceRequest request = ExportTraceServiceRequest.parseFrom(in);
                request.getResourceSpansList().forEach(rs -> rs.getScopeSpansList()
                        .forEach(ss -> spans.addAll(ss.getSpansList())));
                answer(exchange, ExportTraceServiceResponse.getDefaultInstance().toByteArray());
            }
        });
        server.createContext("/v1/metrics", exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                requests.add(exchange.getRequestURI().getPath());
                ExportMetricsServiceRequest request = ExportMetricsServiceRequest.parseFrom(in);
                request.getResourceMetricsList().forEach(rm -> rm.getScopeMetricsList()
                        .forEach(sm -> metrics.addAll(sm.getMetricsList())));
                answer(exchange, ExportMetricsServiceResponse.getDefaultInstance().toByteArray());
            }
        });
        server.setExecutor(java.util.concurrent.Executors.newFixedThreadPool(4));
        server.start();
    }

    private static void answer(com.sun.net.httpserver.HttpExchange exchange, byte[] body) throws IOException {
        exchange.getResponseHeaders().add("Content-Type", "application/x-protobuf");
        exchange.sendResponseHeaders(200, body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
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
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
