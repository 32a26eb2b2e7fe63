package io.caravan.intake;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.outlet.OpenAiWire;
import io.caravan.provider.ProviderStream;
import io.caravan.provider.StreamDelta;
import io.caravan.provider.TokenUsage;
import io.caravan.dispatch.AttemptRecorder;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ErrorClassifier;
import io.caravan.resilience.ProviderError;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskContext.Candidate;
import io.caravan.task.TaskError;
import io.caravan.util.CamelTimer;
import io.caravan.util.Json;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.component.platform.http.vertx.HttpMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a streamed answer to the caller as Server-Sent Events in OpenAI's {@code chat.completion.chunk} format,
 * ending with {@code data: [DONE]}. Camel's platform-http pumps an InputStream body in 4 KiB reads (a chunk waits
 * until the buffer fills), so the events are written straight to the Vert.x response of the request, from the
 * Camel route's own worker thread, one flushed write per event; platform-http then sees the response ended.
 *
 * <p>The answering attempt is recorded here when the stream ends: {@code ok} with the stream's usage and cost, or,
 * when the upstream breaks (reset, read timeout, no terminal event, an error event), a failed attempt of its class,
 * also counted against the deployment's circuit breaker, and the caller gets an explicit error event and no
 * {@code [DONE]}. A caller that goes away aborts the upstream read; the attempt is {@code cancelled}.
 */
public final class ChatStreamWriter {

    private static final Logger LOG = LoggerFactory.getLogger(ChatStreamWriter.class);
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);

    private final AttemptRecorder attempts;
    /** Aborts streams that outlive their task's deadline ({@code timeout_ms}); Camel's, so it stops with the context. */
    private final CamelTimer deadlines = new CamelTimer(this, "caravan-stream-deadlines");

    public ChatStreamWriter(AttemptRecorder attempts) {
        this.attempts = attempts;
    }

    private ScheduledExecutorService deadlines(CamelContext camel) {
        return deadlines.of(camel);
    }

    /** The Vert.x response behind a platform-http request, or null (another transport). */
    static Object responseOf(Message in) {
        return in instanceof HttpMessage hm ? hm.getResponse() : null;
    }

    /** A caller that leaves before its answer stops the fallback chain ({@link TaskContext#callerGone}). */
    static void watchCaller(Object response, TaskContext ctx) {
        if (response instanceof HttpServerResponse r) {
            r.closeHandler(v -> ctx.markCallerGone());
        }
    }

    public void write(Exchange exchange, TaskContext ctx) {
        ChatCompletionsIntake.StreamRequest request =
                exchange.getProperty(ChatCompletionsIntake.STREAM, ChatCompletionsIntake.StreamRequest.class);
        ProviderStream stream = ctx.stream();
        Candidate by = ctx.answeredBy();
        if (request == null || !(request.response() instanceof HttpServerResponse response)) {
            stream.abort();
            record(ctx, by, ErrorClass.SERVER_ERROR, "no HTTP response to stream to", stream.usage(), null);
            throw new IllegalStateException("a streamed answer needs the platform-http (Vert.x) transport");
        }
        AtomicBoolean gone = new AtomicBoolean();
        response.closeHandler(v -> {
            gone.set(true);
            ctx.markCallerGone();
            stream.abort();
        });
        if (ctx.callerGone()) { // left while the stream was being opened
            gone.set(true);
            stream.abort();
        }
        String id = ChatCompletionsIntake.completionId(ctx);
        long created = ChatCompletionsIntake.createdSeconds(ctx);
        String model = ChatCompletionsIntake.modelName(ctx);
        try {
            response.setStatusCode(200);
            response.putHeader("Content-Type", "text/event-stream; charset=utf-8");
            response.putHeader("Cache-Control", "no-cache");
            response.putHeader("X-Accel-Buffering", "no");
            Message headers = new org.apache.camel.support.DefaultMessage(exchange.getContext());
            ChatCompletionsIntake.caravanHeaders(ctx, headers, false);
            headers.getHeaders().forEach((k, v) -> response.putHeader(k, String.valueOf(v)));
            response.setChunked(true);
        } catch (RuntimeException e) { // the caller left before the first byte
            stream.abort();
            record(ctx, by, ErrorClass.CANCELLED, "the caller went away before the stream began", stream.usage(), null);
            return;
        }
        long timeoutMs = ctx.catalog().providerOf(by.deployment()).timeout().toMillis();
        AtomicBoolean late = new AtomicBoolean();
        java.util.concurrent.ScheduledFuture<?> deadline = deadlines(exchange.getContext()).schedule(() -> {
            late.set(true);
            stream.abort();
        }, ctx.remainingMs(), TimeUnit.MILLISECONDS);
        try {
            StreamDelta delta;
            while ((delta = stream.next()) != null) {
                send(response, event(chunk(id, created, model, delta, request.includeUsage())), timeoutMs);
            }
            TokenUsage usage = stream.usage();
            record(ctx, by, null, null, usage, null);
            if (request.includeUsage()) {
                ObjectNode last = base(id, created, model);
                last.putArray("choices");
                last.set("usage", ChatCompletionsIntake.usage(usage));
                send(response, event(last), timeoutMs);
            }
            send(response, DONE, timeoutMs);
            response.end();
        } catch (Exception e) {
            if (gone.get() || e instanceof CallerGone) {
                record(ctx, by, ErrorClass.CANCELLED, "the caller went away mid-stream", stream.usage(), null);
                LOG.info("stream cancelled task={} deployment={}: the caller went away", ctx.task().id(),
                        by.deployment().id());
                endQuietly(response);
                return;
            }
            ErrorClass cls = late.get() ? ErrorClass.TIMEOUT : ErrorClassifier.classify(e);
            if (cls == ErrorClass.CANCELLED) {
                cls = ErrorClass.CONNECTION;
            }
            String message = late.get() ? "task deadline passed mid-stream (timeout_ms)"
                    : "the upstream stream broke: " + ErrorClassifier.describe(e);
            record(ctx, by, cls, message, stream.usage(), late.get() ? null : e);
            LOG.warn("stream broke task={} deployment={} error={} detail={}", ctx.task().id(), by.deployment().id(),
                    cls, ErrorClassifier.describe(e));
            try {
                send(response, event(OpenAiWire.error(cls, message)), timeoutMs);
            } catch (Exception ignored) {
                // the caller is gone too
            }
            endQuietly(response);
        } finally {
            deadline.cancel(false);
            stream.close();
            Message out = exchange.getMessage();
            out.getHeaders().clear();
            out.setBody(null);
        }
    }

    /**
     * A task route that broke with its upstream stream still open (opened in dispatch, not or not all written):
     * the upstream connection is dropped now instead of held until the provider ends it, and the streamed attempt
     * ends {@code cancelled}: the provider did nothing wrong, so it does not count against the breaker.
     */
    public void drop(TaskContext ctx) {
        ProviderStream stream = ctx == null ? null : ctx.stream();
        if (stream == null) {
            return;
        }
        stream.abort();
        if (ctx.callStarted()) { // not yet recorded: write records it whichever way it ends, unless it broke
            attempts.streamEnded(ctx, ctx.answeredBy(), ErrorClass.CANCELLED, 200, stream.usage(), null);
        }
    }

    /** A stream whose answer had begun ends with this error event (the shape of a mid-stream error), no [DONE]. */
    static void endWithError(HttpServerResponse response, ObjectNode error) {
        try {
            if (!response.closed() && !response.ended()) {
                response.write(Buffer.buffer(event(error)));
            }
        } catch (RuntimeException ignored) {
            // the caller is gone too
        }
        endQuietly(response);
    }

    /** A whole answer as the events of a stream: the message in one chunk, the usage chunk if asked, [DONE]. */
    static byte[] whole(TaskContext ctx, boolean includeUsage) {
        String id = ChatCompletionsIntake.completionId(ctx);
        long created = ChatCompletionsIntake.createdSeconds(ctx);
        String model = ChatCompletionsIntake.modelName(ctx);
        ObjectNode delta = ctx.reply().message().deepCopy();
        if (delta.has("tool_calls")) {
            int i = 0;
            for (var call : delta.withArray("tool_calls")) {
                ((ObjectNode) call).put("index", i++);
            }
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.writeBytes(event(chunk(id, created, model, new StreamDelta(delta, null), includeUsage)));
        out.writeBytes(event(chunk(id, created, model, new StreamDelta(Json.object(), ctx.reply().finishReason()),
                includeUsage)));
        if (includeUsage) {
            ObjectNode last = base(id, created, model);
            last.putArray("choices");
            last.set("usage", ChatCompletionsIntake.usage(ctx.reply().usage()));
            out.writeBytes(event(last));
        }
        out.writeBytes(DONE);
        return out.toByteArray();
    }

    private static ObjectNode base(String id, long created, String model) {
        ObjectNode chunk = Json.object();
        chunk.put("id", id);
        chunk.put("object", "chat.completion.chunk");
        chunk.put("created", created);
        chunk.put("model", model);
        chunk.putNull("system_fingerprint");
        return chunk;
    }

    static ObjectNode chunk(String id, long created, String model, StreamDelta delta, boolean withUsage) {
        ObjectNode chunk = base(id, created, model);
        ArrayNode choices = chunk.putArray("choices");
        ObjectNode choice = choices.addObject();
        choice.put("index", 0);
        choice.set("delta", delta.delta() == null ? Json.object() : delta.delta());
        choice.putNull("logprobs");
        if (delta.finishReason() == null) {
            choice.putNull("finish_reason");
        } else {
            choice.put("finish_reason", delta.finishReason());
        }
        if (withUsage) {
            chunk.putNull("usage");
        }
        return chunk;
    }

    static byte[] event(ObjectNode data) {
        return ("data: " + Json.text(data) + "\n\n").getBytes(StandardCharsets.UTF_8);
    }

    /** One event, written and flushed; waits (up to the provider timeout) while the caller's queue is full. */
    private static void send(HttpServerResponse response, byte[] bytes, long timeoutMs) throws Exception {
        if (response.closed()) {
            throw new CallerGone();
        }
        if (response.writeQueueFull()) {
            CountDownLatch drained = new CountDownLatch(1);
            response.drainHandler(v -> drained.countDown());
            if (response.writeQueueFull() && !drained.await(timeoutMs, TimeUnit.MILLISECONDS)) {
                throw new CallerGone();
            }
        }
        response.write(Buffer.buffer(bytes));
    }

    private static void endQuietly(HttpServerResponse response) {
        try {
            if (!response.ended()) {
                response.end(); // also on a closed connection: platform-http then leaves the response alone
            }
        } catch (RuntimeException ignored) {
            // already closed by the caller
        }
    }

    /** Ends the streamed attempt through the recorder: ok ({@code failure} null) or failed, and a failed task. */
    private void record(TaskContext ctx, Candidate by, ErrorClass failure, String message, TokenUsage usage,
            Throwable cause) {
        Integer status = failure == null ? 200 : cause instanceof ProviderError pe && pe.status() != null ? pe.status() : 200;
        attempts.streamEnded(ctx, by, failure, status, usage, cause);
        if (failure != null) {
            ctx.fail(new TaskError(failure, message));
        }
    }


    /** The caller's connection is closed or stopped reading. */
    private static final class CallerGone extends Exception {
        private static final long serialVersionUID = 1L;

        CallerGone() {
            super("the caller went away", null, false, false);
        }
    }
}
