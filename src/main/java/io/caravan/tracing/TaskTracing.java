package io.caravan.tracing;

import io.caravan.Setting;
import io.caravan.Settings;
import io.caravan.provider.ProviderReply;
import io.caravan.resilience.ErrorClass;
import io.caravan.task.Attempt;
import io.caravan.task.Outcome;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;
import io.micrometer.core.instrument.MeterRegistry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.component.kafka.KafkaConstants;
import org.apache.camel.support.SynchronizationAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every task a span, every provider attempt a child span ({@code chat {model}}, kind CLIENT, with the OpenTelemetry
 * GenAI attributes and Caravan's own), and the W3C trace context carried from the task's HTTP request or record
 * headers to its result record; plus the GenAI client metrics ({@link GenAiMetrics}), which are kept whether
 * tracing is on or not.
 *
 * <p>Off by default ({@code caravan.otel.enabled}); off, no OpenTelemetry SDK is built and {@link #begin} and
 * {@link #carryContext} return at once. On, the SDK is configured the standard way (OTEL_* environment variables,
 * otel.* settings, and caravan.otel.* ones as otel.*), so OTLP over HTTP or gRPC goes to any collector.
 *
 * <p>Attempt spans are written when the task ends, from the attempts the task recorded (their start and end
 * times are the attempts' own): one hook at the end of a task instead of one in every place an attempt is made.
 */
public final class TaskTracing implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TaskTracing.class);
    /** The exchange property holding the task's span. */
    static final String SPAN = "caravanTaskSpan";
    /** Set once a task's metrics and spans are written: a task whose route broke after that is not counted twice. */
    static final String FINISHED = "caravanTaskTraced";
    static final String TRACEPARENT = "traceparent";
    static final String TRACESTATE = "tracestate";

    private static final AttributeKey<List<String>> FINISH_REASONS = AttributeKey.stringArrayKey(
            "gen_ai.response.finish_reasons");

    private final AutoConfiguredOpenTelemetrySdk sdk;
    private final Tracer tracer;
    private final GenAiMetrics metrics;
    private final boolean captureContent;

    /** A task's span and whether it was ended (a task ends once, whichever route gets there first). */
    record TaskSpan(Span span, AtomicBoolean ended) {}

    private TaskTracing(AutoConfiguredOpenTelemetrySdk sdk, OpenTelemetry otel, MeterRegistry registry,
            boolean captureContent) {
        this.sdk = sdk;
        this.tracer = otel == null ? null : otel.getTracer("io.caravan");
        this.metrics = new GenAiMetrics(registry, otel);
        this.captureContent = captureContent;
    }

    /** Off unless {@code caravan.otel.enabled=true}; then the SDK from the standard settings. */
    public static TaskTracing from(Settings settings, MeterRegistry registry) {
        if (!settings.get(Setting.OTEL_ENABLED)) {
            return new TaskTracing(null, null, registry, false);
        }
        Map<String, String> properties = new HashMap<>();
        properties.put("otel.service.name", "caravan");
        properties.put("otel.logs.exporter", "none");
        // OTLP/HTTP (4318) unless told grpc (4317): what every collector and back end takes, and the protocol the
        // compose profile and the docs use (the SDK's own default is grpc)
        properties.put("otel.exporter.otlp.protocol", "http/protobuf");
        // a captured prompt or answer is cut to this length (the SDK's own limit, raised or lowered the standard way)
        properties.put("otel.attribute.value.length.limit", "8192");
        settings.all().forEach((k, v) -> {
            String key = k.toString();
            if (key.startsWith("otel.")) {
                properties.put(key, v.toString());
            } else if (key.startsWith("caravan.otel.") && !key.equals(Setting.OTEL_ENABLED.name())
                    && !key.equals(Setting.OTEL_CAPTURE_CONTENT.name())) {
                properties.put(key.substring("caravan.".length()), v.toString());
            }
        });
        AutoConfiguredOpenTelemetrySdk sdk = AutoConfiguredOpenTelemetrySdk.builder()
                .addPropertiesSupplier(() -> properties)
                .disableShutdownHook()
                .build();
        LOG.info("OpenTelemetry on: traces and GenAI metrics go out as OTEL_*/otel.* settings say");
        return new TaskTracing(sdk, sdk.getOpenTelemetrySdk(), registry,
                settings.get(Setting.OTEL_CAPTURE_CONTENT));
    }

    public boolean enabled() {
        return tracer != null;
    }

    /** The task route's first step: the task's span, joining the trace its HTTP request or record came with. */
    public void begin(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        if (tracer == null || ctx == null || exchange.getProperty(SPAN) != null) {
            return;
        }
        Context parent = ctx.source() == TaskContext.Source.KAFKA
                ? W3CTraceContextPropagator.getInstance().extract(Context.root(), ctx.recordHeaders(), RECORD_HEADERS)
                : W3CTraceContextPropagator.getInstance().extract(Context.root(), exchange.getMessage(), MESSAGE_HEADERS);
        Span span = tracer.spanBuilder("caravan task").setParent(parent)
                .setSpanKind(switch (ctx.source()) {
                    case KAFKA -> SpanKind.CONSUMER;
                    case HTTP, CHAT -> SpanKind.SERVER;
                    default -> SpanKind.INTERNAL;
                })
                .startSpan();
        // attributes after the sampling decision: a task not sampled (most of them at a low ratio) builds none
        if (span.isRecording()) {
            span.setAttribute("caravan.task.id", ctx.task().id());
            span.setAttribute("caravan.source", ctx.source().name().toLowerCase(java.util.Locale.ROOT));
            if (ctx.source() == TaskContext.Source.KAFKA) {
                span.setAttribute("messaging.system", "kafka");
                span.setAttribute("messaging.operation.type", "process");
                setIfPresent(span, "messaging.destination.name",
                        exchange.getMessage().getHeader(KafkaConstants.TOPIC, String.class));
            }
        }
        exchange.setProperty(SPAN, new TaskSpan(span, new AtomicBoolean()));
        if (!span.isRecording()) {
            return; // nothing to end: an unsampled task costs what it costs with tracing off, plus its context
        }
        // whichever way the exchange leaves (a step that broke and was not caught, as on the HTTP doors, or a path
        // that skipped finish), the span ends with it; a task the route already finished is left as it is
        exchange.getExchangeExtension().addOnCompletion(new SynchronizationAdapter() {
            @Override
            public void onDone(Exchange done) {
                TaskContext ended = TaskContext.of(done);
                if (ended != null) {
                    finishNow(done, ended, done.isFailed() ? ErrorClass.SERVER_ERROR.wireName() : null);
                }
            }
        });
    }

    /**
     * The task route's step after dispatch: the GenAI metrics of each attempt, its span, and the end of the task's
     * span. A streamed answer is still flowing then: {@link #streamEnded} does it when the stream ends. Never throws.
     */
    public void finish(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        if (ctx != null && ctx.stream() == null) {
            finishNow(exchange, ctx, null);
        }
    }

    /**
     * The step after a task route broke (Kafka: {@code KafkaIntake.taskBroke}; HTTP: {@code HttpIntake.broke}; each
     * has made it a server_error): the attempts made so far are counted and traced, and the task's span ends in
     * error instead of never.
     */
    public void broke(Exchange exchange) {
        streamEnded(exchange);
    }

    /** The chat route's step once a streamed answer ended. Never throws. */
    public void streamEnded(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        if (ctx != null) {
            finishNow(exchange, ctx, null);
        }
    }

    /** {@code failure}: the error type of a task whose exchange broke without the task recording an error. */
    private void finishNow(Exchange exchange, TaskContext ctx, String failure) {
        if (exchange.getProperty(FINISHED) != null) {
            return;
        }
        exchange.setProperty(FINISHED, Boolean.TRUE);
        try {
            List<Attempt> attempts = ctx.attempts(); // a snapshot
            List<GenAiCall> calls = new ArrayList<>(attempts.size());
            for (Attempt attempt : attempts) {
                GenAiCall call = GenAiCall.of(ctx, attempt);
                if (call != null) {
                    calls.add(call);
                    metrics.record(call);
                }
            }
            TaskSpan task = exchange.getProperty(SPAN, TaskSpan.class);
            if (task != null && task.ended().compareAndSet(false, true)) {
                endTaskSpan(task.span(), ctx, attempts, calls, failure);
            }
        } catch (RuntimeException e) {
            LOG.warn("cannot trace task {}: {}", ctx.task().id(), e.toString());
        }
    }

    private void endTaskSpan(Span span, TaskContext ctx, List<Attempt> attempts, List<GenAiCall> calls,
            String failure) {
        if (span.isRecording()) {
            Context parent = Context.root().with(span);
            for (GenAiCall call : calls) {
                attemptSpan(parent, ctx, call);
            }
            String outcome = ctx.error() == null && failure != null ? failure : Outcome.ofTask(ctx);
            boolean answered = outcome.equals(Outcome.OK.wireName());
            setIfPresent(span, "caravan.tier", ctx.tier());
            setIfPresent(span, "caravan.routing_reason", ctx.routingReason());
            setIfPresent(span, "caravan.tenant", ctx.task().tenant());
            span.setAttribute("caravan.outcome", outcome);
            span.setAttribute("caravan.cost_usd", ctx.totalCost());
            span.setAttribute("caravan.attempts", (long) attempts.size());
            span.setAttribute("caravan.fallback", answered && ctx.answeredBy() != null && ctx.answeredBy().fallback());
            if (answered || outcome.equals(Outcome.ACCEPTED.wireName())) {
                span.setStatus(StatusCode.OK);
            } else if (!outcome.equals(Outcome.UNKNOWN_TASK)) {
                span.setAttribute("error.type", outcome);
                span.setStatus(StatusCode.ERROR);
            }
        }
        span.end();
    }

    private void attemptSpan(Context parent, TaskContext ctx, GenAiCall call) {
        Attempt attempt = call.attempt();
        SpanBuilder b = tracer.spanBuilder(GenAiCall.OPERATION + " " + call.requestModel())
                .setParent(parent).setSpanKind(SpanKind.CLIENT).setStartTimestamp(call.start())
                .setAttribute("gen_ai.operation.name", GenAiCall.OPERATION)
                .setAttribute("gen_ai.provider.name", call.providerName())
                .setAttribute("gen_ai.request.model", call.requestModel());
        var params = ctx.task().params();
        if (params != null) {
            var maxTokens = params.hasNonNull("max_tokens") ? params.get("max_tokens") : params.get("max_completion_tokens");
            if (maxTokens != null && maxTokens.canConvertToLong()) {
                b.setAttribute("gen_ai.request.max_tokens", maxTokens.asLong());
            }
            if (params.path("temperature").isNumber()) {
                b.setAttribute("gen_ai.request.temperature", params.get("temperature").asDouble());
            }
            if (params.path("top_p").isNumber()) {
                b.setAttribute("gen_ai.request.top_p", params.get("top_p").asDouble());
            }
        }
        if (call.serverAddress() != null) {
            b.setAttribute("server.address", call.serverAddress());
            b.setAttribute("server.port", (long) call.serverPort());
        }
        if (attempt.status() != null) {
            b.setAttribute("http.response.status_code", (long) attempt.status());
        }
        setIfPresent(b, "caravan.tier", ctx.tier());
        setIfPresent(b, "caravan.routing_reason", ctx.routingReason());
        b.setAttribute("caravan.deployment", attempt.deployment());
        b.setAttribute("caravan.attempt", (long) attempt.number());
        b.setAttribute("caravan.outcome", attempt.outcome().wireName());
        b.setAttribute("caravan.cost_usd", attempt.costUsd());
        b.setAttribute("caravan.fallback", attempt.fallback());
        if (call.errorType() != null) {
            b.setAttribute("error.type", call.errorType());
        } else {
            setIfPresent(b, "gen_ai.response.model", call.responseModel());
            b.setAttribute("gen_ai.usage.input_tokens", attempt.usage().input());
            b.setAttribute("gen_ai.usage.output_tokens", attempt.usage().output());
            b.setAttribute("gen_ai.usage.cache_read.input_tokens", attempt.usage().cachedInput());
        }
        ProviderReply reply = call.reply();
        if (reply != null) {
            setIfPresent(b, "gen_ai.response.id", reply.responseId());
            if (reply.finishReason() != null) {
                b.setAttribute(FINISH_REASONS, List.of(reply.finishReason()));
            }
        }
        if (call.timeToFirstChunk() != null) {
            b.setAttribute("gen_ai.response.time_to_first_chunk", call.timeToFirstChunk().toNanos() / 1e9);
        }
        if (captureContent) {
            b.setAttribute("gen_ai.input.messages", Json.text(ctx.task().messages()));
            if (reply != null && reply.message() != null) {
                b.setAttribute("gen_ai.output.messages", "[" + Json.text(reply.message()) + "]");
            }
        }
        Span span = b.startSpan();
        if (call.errorType() != null) {
            span.setStatus(StatusCode.ERROR);
        }
        span.end(call.end());
    }

    /**
     * Before a result record leaves: its {@code traceparent}/{@code tracestate} become the task's span, so whoever
     * reads the answer continues the same trace (with tracing off, the task record's own headers travel on unchanged).
     */
    public void carryContext(Exchange exchange) {
        TaskSpan task = tracer == null ? null : exchange.getProperty(SPAN, TaskSpan.class);
        if (task == null) {
            return;
        }
        Message out = exchange.getMessage();
        out.removeHeader(TRACEPARENT);
        out.removeHeader(TRACESTATE);
        W3CTraceContextPropagator.getInstance().inject(Context.root().with(task.span()), out,
                (message, key, value) -> message.setHeader(key, value));
    }

    private static void setIfPresent(Span span, String key, String value) {
        if (value != null) {
            span.setAttribute(key, value);
        }
    }

    private static void setIfPresent(SpanBuilder builder, String key, String value) {
        if (value != null) {
            builder.setAttribute(key, value);
        }
    }

    /** Flushes and stops the SDK built from settings. */
    @Override
    public void close() {
        if (sdk != null) {
            sdk.getOpenTelemetrySdk().close();
        }
    }

    private static final TextMapGetter<Message> MESSAGE_HEADERS = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Message message) {
            return message.getHeaders().keySet();
        }

        @Override
        public String get(Message message, String key) {
            return message == null ? null : text(message.getHeader(key));
        }
    };

    private static final TextMapGetter<Map<String, byte[]>> RECORD_HEADERS = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, byte[]> headers) {
            return headers.keySet();
        }

        @Override
        public String get(Map<String, byte[]> headers, String key) {
            return headers == null ? null : text(headers.get(key));
        }
    };

    private static String text(Object value) {
        if (value instanceof byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
        return value == null ? null : value.toString();
    }
}
