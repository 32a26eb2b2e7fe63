package io.caravan.intake;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.outlet.OpenAiWire;
import io.caravan.outlet.ResultJson;
import io.caravan.task.InvalidTaskException;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;
import io.vertx.core.buffer.Buffer;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.Message;

/** {@code POST /v1/tasks}: a task in, its result out, with the status of its error type. */
public final class HttpIntake {

    private final TaskIntake intake;
    private final int maxTaskBytes;

    public HttpIntake(TaskIntake intake, int maxTaskBytes) {
        this.intake = intake;
        this.maxTaskBytes = maxTaskBytes;
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
     * A JSON reply body as platform-http writes it in one go. A byte[] would be converted to an InputStream and
     * pumped through worker-thread reads: two more thread hops per answer, a fifth of a sequential call's time.
     */
    public static Buffer jsonBody(JsonNode json) {
        return Buffer.buffer(Json.bytes(json));
    }
}
