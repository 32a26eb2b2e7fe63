package io.caravan.tracing;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongHistogram;
import io.opentelemetry.api.metrics.Meter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The OpenTelemetry GenAI client metrics, beside Caravan's own: {@code gen_ai.client.token.usage},
 * {@code gen_ai.client.operation.duration} and, for streams, {@code gen_ai.client.operation.time_to_first_chunk},
 * with the convention's attributes and bucket boundaries. Always on Micrometer (so on {@code /metrics}, where
 * Prometheus spells them {@code gen_ai_client_token_usage} and so on); also through OpenTelemetry's meter when
 * tracing is on. Label values come from the catalog and the providers' answers, never a key.
 */
final class GenAiMetrics {

    static final String TOKEN_USAGE = "gen_ai.client.token.usage";
    static final String DURATION = "gen_ai.client.operation.duration";
    static final String TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk";
    /** The convention's ExplicitBucketBoundaries for token counts and for seconds. */
    static final List<Long> TOKEN_BUCKETS = List.of(1L, 4L, 16L, 64L, 256L, 1024L, 4096L, 16384L, 65536L, 262144L,
            1048576L, 4194304L, 16777216L, 67108864L);
    static final List<Double> SECOND_BUCKETS = List.of(0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12,
            10.24, 20.48, 40.96, 81.92);

    private final MeterRegistry registry;
    private final Map<List<String>, DistributionSummary> summaries = new ConcurrentHashMap<>();
    private final Map<List<String>, Attributes> otelAttributeSets = new ConcurrentHashMap<>();
    private final LongHistogram otelTokens;
    private final DoubleHistogram otelDuration;
    private final DoubleHistogram otelFirstChunk;

    /** {@code otel} null: Micrometer only. */
    GenAiMetrics(MeterRegistry registry, OpenTelemetry otel) {
        this.registry = registry;
        if (otel == null) {
            otelTokens = null;
            otelDuration = null;
            otelFirstChunk = null;
        } else {
            Meter meter = otel.getMeter("io.caravan");
            otelTokens = meter.histogramBuilder(TOKEN_USAGE).ofLongs().setUnit("{token}")
                    .setDescription("Number of input and output tokens used")
                    .setExplicitBucketBoundariesAdvice(TOKEN_BUCKETS).build();
            otelDuration = meter.histogramBuilder(DURATION).setUnit("s").setDescription("GenAI operation duration")
                    .setExplicitBucketBoundariesAdvice(SECOND_BUCKETS).build();
            otelFirstChunk = meter.histogramBuilder(TIME_TO_FIRST_CHUNK).setUnit("s")
                    .setDescription("Time to receive the first chunk of a streamed answer")
                    .setExplicitBucketBoundariesAdvice(SECOND_BUCKETS).build();
        }
    }

    void record(GenAiCall call) {
        List<String> common = new ArrayList<>(12);
        pair(common, "gen_ai.operation.name", GenAiCall.OPERATION);
        pair(common, "gen_ai.provider.name", call.providerName());
        pair(common, "gen_ai.request.model", call.requestModel());
        pair(common, "gen_ai.response.model", call.responseModel());
        pair(common, "server.address", call.serverAddress());
        pair(common, "server.port", call.serverPort() > 0 ? Integer.toString(call.serverPort()) : null);
        List<String> withError = new ArrayList<>(common);
        pair(withError, "error.type", call.errorType());

        summary(DURATION, "GenAI operation duration, seconds", SECOND_BUCKETS, withError)
                .record(call.durationSeconds());
        if (call.timeToFirstChunk() != null) {
            summary(TIME_TO_FIRST_CHUNK, "Time to the first chunk of a streamed answer, seconds", SECOND_BUCKETS,
                    common).record(call.timeToFirstChunk().toNanos() / 1e9);
        }
        long input = call.attempt().usage().input();
        long output = call.attempt().usage().output();
        // the convention reports tokens only when the provider counted them
        List<String> inputTags = null;
        List<String> outputTags = null;
        if (call.errorType() == null) {
            inputTags = tokens(common, "input", input);
            outputTags = tokens(common, "output", output);
        }
        if (otelDuration != null) {
            otelDuration.record(call.durationSeconds(), otelAttributes(withError));
            if (call.timeToFirstChunk() != null) {
                otelFirstChunk.record(call.timeToFirstChunk().toNanos() / 1e9, otelAttributes(common));
            }
            if (inputTags != null) {
                otelTokens.record(input, otelAttributes(inputTags));
                otelTokens.record(output, otelAttributes(outputTags));
            }
        }
    }

    private List<String> tokens(List<String> common, String type, long count) {
        List<String> tags = new ArrayList<>(common);
        pair(tags, "gen_ai.token.type", type);
        summary(TOKEN_USAGE, "Number of input and output tokens used", TOKEN_BUCKETS, tags).record(count);
        return tags;
    }

    /** OpenTelemetry's attributes for these labels, built once: building and hashing them per call costs more than recording. */
    private Attributes otelAttributes(List<String> tags) {
        Attributes attributes = otelAttributeSets.get(tags);
        return attributes != null ? attributes : otelAttributeSets.computeIfAbsent(List.copyOf(tags), GenAiMetrics::attributes);
    }

    private DistributionSummary summary(String name, String description, List<? extends Number> buckets,
            List<String> tags) {
        List<String> key = new ArrayList<>(tags.size() + 1);
        key.add(name);
        key.addAll(tags);
        DistributionSummary summary = summaries.get(key);
        return summary != null ? summary : summaries.computeIfAbsent(List.copyOf(key), k ->
                DistributionSummary.builder(name).description(description).tags(tags.toArray(String[]::new))
                        .serviceLevelObjectives(buckets.stream().mapToDouble(Number::doubleValue).toArray())
                        .register(registry));
    }

    /** Every meter of a name has the same label names (Prometheus wants that): a value not known is empty, as absent. */
    private static void pair(List<String> tags, String name, String value) {
        tags.add(name);
        tags.add(value == null ? "" : value);
    }

    private static Attributes attributes(List<String> tags) {
        AttributesBuilder builder = Attributes.builder();
        for (int i = 0; i < tags.size(); i += 2) {
            if (tags.get(i + 1).isEmpty()) {
                continue;
            }
            if (tags.get(i).equals("server.port")) {
                builder.put(AttributeKey.longKey("server.port"), Long.parseLong(tags.get(i + 1)));
            } else {
                builder.put(tags.get(i), tags.get(i + 1));
            }
        }
        return builder.build();
    }
}
