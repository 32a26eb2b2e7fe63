package io.caravan.intake;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogHolder;
import io.caravan.catalog.TierSpec;
import io.caravan.outlet.OpenAiWire;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.TokenUsage;
import io.caravan.resilience.ErrorClass;
import io.caravan.task.InvalidTaskException;
import io.caravan.task.Task;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskError;
import io.caravan.util.Json;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Set;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.Message;

/**
 * {@code POST /v1/chat/completions} and {@code GET /v1/models}: OpenAI's chat API in front of the same task
 * pipeline as Kafka and {@code /v1/tasks}. The request becomes a {@link Task} (validated by the one
 * {@link io.caravan.task.TaskParser}), the answer an OpenAI {@code chat.completion}, errors OpenAI's
 * {@code {"error": {...}}}. Streaming requests ({@code "stream": true}) are answered by {@link ChatStreamWriter}.
 */
public final class ChatCompletionsIntake {

    /** Exchange property: the caller's streaming wishes ({@link StreamRequest}); absent for plain calls. */
    public static final String STREAM = io.caravan.dispatch.StreamCalls.WANTED;

    /** OpenAI request fields that become task params, passed on to the adapters: the tasks' own list. */
    static final Set<String> PARAMS = io.caravan.task.TaskParser.PARAMS;

    /** Caravan's own task fields a caller may add to the OpenAI body (the SDKs' "extra body"). */
    static final Set<String> TASK_FIELDS = Set.of("tier", "scores", "timeout_ms");

    /** What a streaming caller asked for, and where its answer goes. */
    public record StreamRequest(boolean includeUsage, Object response) {}

    private final TaskIntake intake;
    private final CatalogHolder catalogs;
    private final int maxTaskBytes;
    private final ChatStreamWriter streams;

    public ChatCompletionsIntake(TaskIntake intake, CatalogHolder catalogs, int maxTaskBytes, ChatStreamWriter streams) {
        this.intake = intake;
        this.catalogs = catalogs;
        this.maxTaskBytes = maxTaskBytes;
        this.streams = streams;
    }

    /** Size first, then JSON, then the task: throws {@link InvalidTaskException} (400, or 413 when too large). */
    public void accept(Exchange exchange) {
        Message in = exchange.getMessage();
        HttpIntake.refuseDeclaredOversize(in, maxTaskBytes);
        Object response = ChatStreamWriter.responseOf(in);
        byte[] body = in.getBody(byte[].class);
        if (body == null || body.length == 0) {
            throw new InvalidTaskException("empty body: a chat completion request is a JSON object", null);
        }
        if (body.length > maxTaskBytes) {
            throw new InvalidTaskException("body is " + body.length + " bytes, over the limit of " + maxTaskBytes, null, true);
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(body);
        } catch (JsonProcessingException e) {
            throw new InvalidTaskException("not JSON: " + e.getOriginalMessage(), null);
        } catch (IOException e) {
            throw new InvalidTaskException("unreadable body: " + e.getMessage(), null);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidTaskException("a chat completion request is a JSON object", null);
        }
        Task task = intake.parser().fromJson(
                toTask((ObjectNode) root, catalogs.current().routing().paramsPassthrough()), null);
        if (root.path("n").canConvertToInt() && root.path("n").asInt() > 1) {
            throw new InvalidTaskException("n > 1 is not supported: ask once per choice", task.id());
        }
        JsonNode stream = root.get("stream");
        if (stream != null && !stream.isNull() && !stream.isBoolean()) {
            throw new InvalidTaskException("stream must be a boolean", task.id());
        }
        if (stream != null && stream.asBoolean(false)) {
            boolean includeUsage = root.path("stream_options").path("include_usage").asBoolean(false);
            exchange.setProperty(STREAM, new StreamRequest(includeUsage, response));
        }
        TaskContext ctx = intake.open(exchange, task, TaskContext.Source.CHAT);
        ChatStreamWriter.watchCaller(response, ctx);
    }

    /** The OpenAI request as a task: messages and model as they are, params, metadata and {@code user}. */
    public static ObjectNode toTask(ObjectNode request) {
        return toTask(request, Set.of());
    }

    /** As {@link #toTask(ObjectNode)}, also taking the catalog's passthrough params from the request. */
    public static ObjectNode toTask(ObjectNode request, Set<String> passthrough) {
        ObjectNode task = Json.object();
        if (request.has("messages")) {
            task.set("messages", request.get("messages"));
        }
        if (request.has("model")) {
            task.set("model", request.get("model"));
        }
        ObjectNode params = task.putObject("params");
        for (Set<String> names : java.util.List.of(PARAMS, passthrough)) {
            names.forEach(name -> {
                JsonNode v = request.get(name);
                if (v != null && !v.isNull()) {
                    params.set(name, v);
                }
            });
        }
        JsonNode metadata = request.get("metadata");
        if (metadata != null && !metadata.isNull() && !metadata.isObject()) {
            throw new InvalidTaskException("metadata must be an object", null);
        }
        ObjectNode meta = metadata == null || metadata.isNull() ? Json.object() : ((ObjectNode) metadata).deepCopy();
        JsonNode user = request.get("user");
        if (user != null && user.isTextual() && !meta.has("user")) {
            meta.put("user", user.asText());
        }
        task.set("metadata", meta);
        TASK_FIELDS.forEach(name -> {
            if (request.has(name)) {
                task.set(name, request.get(name));
            }
        });
        return task;
    }

    /** Whether the answer goes out as Server-Sent Events (the task found a stream to hand over). */
    public boolean streaming(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        return ctx != null && ctx.stream() != null;
    }

    /** A streamed answer's attempts (the streamed one included) go out as usage events once the stream ended. */
    public boolean streamed(TaskContext ctx) {
        return ctx != null && ctx.stream() != null && !ctx.attempts().isEmpty();
    }

    /** Writes the finished task as a {@code chat.completion}, an SSE stream, or an OpenAI error. */
    public void respond(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        if (ctx.stream() != null) {
            streams.write(exchange, ctx);
            return;
        }
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        if (ctx.error() != null || ctx.reply() == null) {
            TaskError error = ctx.error() != null ? ctx.error()
                    : new TaskError(ErrorClass.EXHAUSTED, "no answer");
            out.setHeader(Exchange.HTTP_RESPONSE_CODE, OpenAiWire.status(ctx, error.type()));
            caravanHeaders(ctx, out, true);
            out.setBody(HttpIntake.jsonBody(OpenAiWire.error(error.type(), error.message())));
            return;
        }
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        caravanHeaders(ctx, out, true);
        StreamRequest stream = exchange.getProperty(STREAM, StreamRequest.class);
        if (stream != null) {
            // asked to stream, answered whole (an adapter that cannot stream): the same answer as events
            out.setHeader(Exchange.CONTENT_TYPE, "text/event-stream; charset=utf-8");
            out.setHeader("Cache-Control", "no-cache");
            out.setBody(Buffer.buffer(ChatStreamWriter.whole(ctx, stream.includeUsage())));
            return;
        }
        out.setBody(HttpIntake.jsonBody(completion(ctx)));
    }

    /** After a task broke inside Caravan: its upstream stream, if one is still open, is dropped ({@link ChatStreamWriter#drop}). */
    public void dropStream(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        streams.drop(ctx);
    }

    /** {@code GET /v1/models}: {@code auto}, every group and every {@code tier:NAME}, in OpenAI's list shape. */
    public void models(Exchange exchange) {
        Catalog catalog = catalogs.current();
        ObjectNode list = Json.object();
        list.put("object", "list");
        ArrayNode data = list.putArray("data");
        model(data, Task.AUTO, "caravan");
        catalog.groups().keySet().forEach(group -> model(data, group, "caravan"));
        for (TierSpec tier : catalog.tierList()) {
            model(data, Task.TIER_PREFIX + tier.name(), "caravan");
        }
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        out.setBody(HttpIntake.jsonBody(list));
    }

    private static void model(ArrayNode data, String id, String owner) {
        data.addObject().put("id", id).put("object", "model").put("created", 0).put("owned_by", owner);
    }

    /** The {@code chat.completion} of an answered task. */
    public static ObjectNode completion(TaskContext ctx) {
        ProviderReply reply = ctx.reply();
        ObjectNode body = Json.object();
        body.put("id", completionId(ctx));
        body.put("object", "chat.completion");
        body.put("created", createdSeconds(ctx));
        body.put("model", modelName(ctx));
        ArrayNode choices = body.putArray("choices");
        ObjectNode choice = choices.addObject();
        choice.put("index", 0);
        ObjectNode message = reply.message().deepCopy();
        if (!message.has("content")) {
            message.putNull("content");
        }
        if (!message.has("refusal")) {
            message.putNull("refusal");
        }
        choice.set("message", message);
        choice.putNull("logprobs");
        choice.put("finish_reason", reply.finishReason() == null ? "stop" : reply.finishReason());
        body.set("usage", usage(reply.usage()));
        body.putNull("system_fingerprint");
        return body;
    }

    static ObjectNode usage(TokenUsage usage) {
        ObjectNode node = Json.object();
        node.put("prompt_tokens", usage.input());
        node.put("completion_tokens", usage.output());
        node.put("total_tokens", usage.input() + usage.output());
        node.putObject("prompt_tokens_details").put("cached_tokens", usage.cachedInput());
        return node;
    }

    static String completionId(TaskContext ctx) {
        return "chatcmpl-" + ctx.task().id();
    }

    static long createdSeconds(TaskContext ctx) {
        return (System.currentTimeMillis() - ctx.elapsedMs()) / 1000L;
    }

    /** The provider's model id when a deployment answered, else the group the task was routed to. */
    static String modelName(TaskContext ctx) {
        var by = ctx.answeredBy();
        if (by != null) {
            return by.deployment().model();
        }
        return ctx.group() != null ? ctx.group() : ctx.task().model();
    }

    /** {@code x-caravan-*}: who answered, the tier, whether it was a fallback and (when known) the cost. */
    static void caravanHeaders(TaskContext ctx, Message out, boolean withCost) {
        var by = ctx.answeredBy();
        if (by != null) {
            out.setHeader("x-caravan-provider", by.deployment().provider());
            out.setHeader("x-caravan-model", by.group());
        } else if (ctx.group() != null) {
            out.setHeader("x-caravan-model", ctx.group());
        }
        if (ctx.tier() != null) {
            out.setHeader("x-caravan-tier", ctx.tier());
        }
        out.setHeader("x-caravan-fallback", String.valueOf(by != null && by.fallback()));
        if (withCost) {
            // what %.8f printed (the shortest decimal of the double, half up), without a Formatter per response
            out.setHeader("x-caravan-cost-usd",
                    BigDecimal.valueOf(ctx.totalCost()).setScale(8, RoundingMode.HALF_UP).toPlainString());
        }
        out.setHeader("x-caravan-task-id", ctx.task().id());
        if (ctx.retryAfterMs() != null) {
            out.setHeader("Retry-After", String.valueOf(Math.max(1, (ctx.retryAfterMs() + 999) / 1000)));
        }
    }
}
