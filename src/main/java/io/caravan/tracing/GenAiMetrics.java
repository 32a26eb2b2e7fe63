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

    /**
     * Label sets kept at most: the response model comes from the provider's answer, so a provider naming a new model
     * in every answer could otherwise grow the meters without end. Past it, a new set records as response model
     * {@link #OTHER_MODEL}.
     */
    static final int MAX_SERIES = 512;
    static final String OTHER_MODEL = "_other";

    private final MeterRegistry registry;
    /** Everything one label set records to, worked out once: per call, one lookup instead of lists built and hashed. */
    private final Map<SeriesKey, Series> series = new ConcurrentHashMap<>();
    private final LongHistogram otelTokens;
    private final DoubleHistogram otelDuration;
    private final DoubleHistogram otelFirstChunk;

    record SeriesKey(String providerName, String requestModel, String responseModel, String serverAddress,
            int serverPort, String errorType) {}

    /** A label set's meters (time to first chunk made on first use: most calls do not stream). */
    private final class Series {
        final List<String> common;
        final DistributionSummary duration;
        final DistributionSummary inputTokens;
        final DistributionSummary outputTokens;
        volatile DistributionSummary firstChunk;
        final Attributes otelCommon;
        final Attributes otelWithError;
        final Attributes otelInput;
        final Attributes otelOutput;

        Series(SeriesKey key) {
            common = new ArrayList<>(12);
            pair(common, "gen_ai.operation.name", GenAiCall.OPERATION);
            pair(common, "gen_ai.provider.name", key.providerName());
            pair(common, "gen_ai.request.model", key.requestModel());
            pair(common, "gen_ai.response.model", key.responseModel());
            pair(common, "server.address", key.serverAddress());
            pair(common, "server.port", key.serverPort() > 0 ? Integer.toString(key.serverPort()) : null);
            List<String> withError = with(common, "error.type", key.errorType());
            duration = summary(DURATION, "GenAI operation duration, seconds", SECOND_BUCKETS, withError);
            // the convention reports tokens only when the provider counted them: answered calls
            List<String> input = with(common, "gen_ai.token.type", "input");
            List<String> output = with(common, "gen_ai.token.type", "output");
            boolean answered = key.errorType() == null;
            inputTokens = answered ? summary(TOKEN_USAGE, "Number of input and output tokens used", TOKEN_BUCKETS, input) : null;
            outputTokens = answered ? summary(TOKEN_USAGE, "Number of input and output tokens used", TOKEN_BUCKETS, output) : null;
            otelCommon = attributes(common);
            otelWithError = attributes(withError);
            otelInput = attributes(input);
            otelOutput = attributes(output);
        }

        DistributionSummary firstChunk() {
            DistributionSummary s = firstChunk;
            if (s == null) {
                s = summary(TIME_TO_FIRST_CHUNK, "Time to the first chunk of a streamed answer, seconds",
                        SECOND_BUCKETS, common);
                firstChunk = s;
            }
            return s;
        }
    }

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
        Series meters = series(new SeriesKey(call.providerName(), call.requestModel(), call.responseModel(),
                call.serverAddress(), call.serverPort(), call.errorType()));
        double seconds = call.durationSeconds();
        meters.duration.record(seconds);
        Double firstChunk = call.timeToFirstChunk() == null ? null : call.timeToFirstChunk().toNanos() / 1e9;
        if (firstChunk != null) {
            meters.firstChunk().record(firstChunk);
        }
        long input = call.attempt().usage().input();
        long output = call.attempt().usage().output();
        if (meters.inputTokens != null) {
            meters.inputTokens.record(input);
            meters.outputTokens.record(output);
        }
        if (otelDuration != null) {
            otelDuration.record(seconds, meters.otelWithError);
            if (firstChunk != null) {
                otelFirstChunk.record(firstChunk, meters.otelCommon);
            }
            if (meters.inputTokens != null) {
                otelTokens.record(input, meters.otelInput);
                otelTokens.record(output, meters.otelOutput);
            }
        }
    }

    private Series series(SeriesKey key) {
        Series found = series.get(key);
        if (found != null) {
            return found;
        }
        if (series.size() >= MAX_SERIES && !OTHER_MODEL.equals(key.responseModel())) {
            return series(new SeriesKey(key.providerName(), key.requestModel(), OTHER_MODEL, key.serverAddress(),
                    key.serverPort(), key.errorType()));
        }
        return series.computeIfAbsent(key, Series::new);
    }

    int seriesCount() {
        return series.size();
    }

    private DistributionSummary summary(String name, String description, List<? extends Number> buckets,
            List<String> tags) {
        return DistributionSummary.builder(name).description(description).tags(tags.toArray(String[]::new))
                .serviceLevelObjectives(buckets.stream().mapToDouble(Number::doubleValue).toArray())
                .register(registry);
    }

    private static List<String> with(List<String> tags, String name, String value) {
        List<String> more = new ArrayList<>(tags);
        pair(more, name, value);
        return more;
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
