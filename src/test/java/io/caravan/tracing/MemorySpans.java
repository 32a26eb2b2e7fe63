package io.caravan.tracing;

import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.traces.ConfigurableSpanExporterProvider;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.List;

/**
 * The SDK's in-memory span exporter under the exporter name {@code caravan-memory}, so a whole Caravan started
 * with {@code otel.traces.exporter=caravan-memory} keeps its spans here for the test to read. One for the JVM:
 * tests tell their spans apart by trace id.
 */
public final class MemorySpans implements ConfigurableSpanExporterProvider {

    static final InMemorySpanExporter EXPORTER = InMemorySpanExporter.create();

    @Override
    public SpanExporter createExporter(ConfigProperties config) {
        // the SDK shuts its exporter down with the Caravan; the shared one must outlive it
        return new SpanExporter() {
            @Override
            public io.opentelemetry.sdk.common.CompletableResultCode export(java.util.Collection<SpanData> spans) {
                return EXPORTER.export(spans);
            }

            @Override
            public io.opentelemetry.sdk.common.CompletableResultCode flush() {
                return EXPORTER.flush();
            }

            @Override
            public io.opentelemetry.sdk.common.CompletableResultCode shutdown() {
                return io.opentelemetry.sdk.common.CompletableResultCode.ofSuccess();
            }
        };
    }

    @Override
    public String getName() {
        return "caravan-memory";
    }

    static List<SpanData> inTrace(String traceId) {
        return EXPORTER.getFinishedSpanItems().stream().filter(s -> s.getTraceId().equals(traceId)).toList();
    }
}
