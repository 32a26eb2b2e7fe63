package io.caravan.intake;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.outlet.OpenAiWire;
import io.caravan.outlet.ResultJson;
import io.caravan.resilience.ErrorClass;
import io.caravan.task.InvalidTaskException;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskError;
import io.caravan.util.Json;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.Message;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code POST /v1/tasks}: a task in, its result out, with the status of its error type. */
public final class HttpIntake {

    private static final Logger LOG = LoggerFactory.getLogger(HttpIntake.class);

    private final TaskIntake intake;
    private final int maxTaskBytes;
    private final FatalErrors fatal;

    public HttpIntake(TaskIntake intake, int maxTaskBytes, FatalErrors fatal) {
        this.intake = intake;
        this.maxTaskBytes = maxTaskBytes;
        this.fatal = fatal;
    }

    /** Checks the size before parsing, then opens the task; throws {@link InvalidTaskException}. */
    public void accept(Exchange exchange) {
        Message in = exchange.getMessage();
        refuseDeclaredOversize(in, maxTaskBytes);
        byte[] body = in.getBody(byte[].class);
        String type = in.getHeader(Exchange.CONTENT_TYPE, String.class);
        if ((body == null || body.length == 0) && type != null && type.startsWith("application/x-www-form-urlencoded")) {
            throw new InvalidTaskException("the body was sent as a form: send the task as JSON with "
                    + "Content-Type: application/json", null);
        }
        TaskContext ctx = intake.open(exchange, body, null, TaskContext.Source.HTTP);
        // a caller who hangs up stops the provider call and the fallbacks (CallCancellation), as on the chat door
        Object response = ChatStreamWriter.responseOf(in);
        ChatStreamWriter.watchCaller(response, ctx);
        if (response instanceof io.vertx.core.http.HttpServerResponse r && r.closed()) {
            ctx.markCallerGone(); // gone before the watch was set
        }
    }

    /** 413 on the declared Content-Length alone, before the body is read or parsed. */
    static void refuseDeclaredOversize(Message in, int maxTaskBytes) {
        Long length = in.getHeader("Content-Length", Long.class);
        if (length != null && length > maxTaskBytes) {
            throw new InvalidTaskException("body is " + length + " bytes, over the limit of " + maxTaskBytes, null, true);
        }
    }

    public void respond(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, ctx.error() == null ? 200 : ctx.error().type().policy().httpStatus());
        if (ctx.error() != null && ctx.retryAfterMs() != null) {
            out.setHeader("Retry-After", String.valueOf(Math.max(1, (ctx.retryAfterMs() + 999) / 1000)));
        }
        out.setBody(jsonBody(ResultJson.result(ctx)));
    }

    /**
     * A body that is not a task or request, on any HTTP door ({@code routes/intake-http.yaml}, routeConfiguration
     * {@code http-boundary}): 400, or 413 when too large, in OpenAI's error shape.
     */
    public void reject(@ExchangeProperty(Exchange.EXCEPTION_CAUGHT) InvalidTaskException invalid, Exchange exchange) {
        exchange.removeProperty(ChatCompletionsIntake.STREAM); // a rejected stream request is answered whole
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, invalid.tooLarge() ? 413 : 400);
        out.setBody(jsonBody(OpenAiWire.errorBody(invalid.getMessage(), "invalid_request_error",
                invalid.tooLarge() ? "request_too_large" : "invalid_task")));
    }

    /**
     * Something inside Caravan broke while a task was on an HTTP door (an exception no step turned into an error
     * class; {@code routes/intake-http.yaml}, routeConfiguration {@code http-boundary}): the task ends a
     * {@code server_error} and the caller gets 500 in OpenAI's error shape, saying no more than that (the cause is
     * in the log), or, when its stream had begun, an error event and the end of the stream.
     *
     * <p>A JVM error (out of memory, stack overflow: {@link FatalErrors}) stops the process, as on Kafka, once the
     * caller has its answer: 503 instead of 500, {@code server_error}'s own status, which says "this instance cannot
     * serve you, send it again" (proxies and OpenAI's clients retry it; the next try reaches another instance or
     * this one restarted), as a Kafka task goes to another member.
     */
    public void broke(@ExchangeProperty(Exchange.EXCEPTION_CAUGHT) Exception caught, Exchange exchange) {
        VirtualMachineError vmError = FatalErrors.vmError(caught);
        if (vmError != null) {
            // first, so that nothing below can keep the process from stopping
            fatal.haltAfterAnswer(exchange, vmError, "an HTTP task on " + exchange.getFromRouteId());
        }
        TaskContext ctx = TaskContext.of(exchange);
        String id = ctx == null ? null : ctx.task().id();
        LOG.error("task {} broke inside Caravan on {}; it is answered {} server_error", id,
                exchange.getFromRouteId(), vmError == null ? 500 : 503, caught);
        String message = "internal error in Caravan" + (id == null ? "" : " (task " + id + ")")
                + (vmError == null ? "" : "; this instance is stopping: send the request again");
        if (ctx != null) {
            ctx.fail(new TaskError(ErrorClass.SERVER_ERROR, message));
        }
        ObjectNode error = OpenAiWire.errorBody(message, ErrorClass.SERVER_ERROR.policy().openAiType(),
                ErrorClass.SERVER_ERROR.wireName());
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        var stream = exchange.getProperty(ChatCompletionsIntake.STREAM, ChatCompletionsIntake.StreamRequest.class);
        if (stream != null && stream.response() instanceof HttpServerResponse response && response.headWritten()) {
            ChatStreamWriter.endWithError(response, error);
            out.setBody(null);
            return;
        }
        exchange.removeProperty(ChatCompletionsIntake.STREAM); // not begun: answered whole
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, vmError == null ? 500 : 503);
        out.setBody(jsonBody(error));
    }

    /**
     * A JSON reply body as platform-http writes it in one go. A byte[] would be converted to an InputStream and
     * pumped through worker-thread reads: two more thread hops per answer, a fifth of a sequential call's time.
     */
    public static Buffer jsonBody(JsonNode json) {
        return Buffer.buffer(Json.bytes(json));
    }
}
