package io.caravan.cli;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An OpenAI-compatible chat provider on 127.0.0.1 for {@code caravan train}: it answers every call at once, plain or
 * streamed, so the training run takes the provider HTTP client and the OpenAI adapter the way production does.
 */
final class LoopbackProvider implements AutoCloseable {

    static final String COMPLETION = "{\"id\":\"chatcmpl-train\",\"object\":\"chat.completion\",\"created\":1,"
            + "\"model\":\"trainer-2\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},"
            + "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2,\"total_tokens\":14}}";
    static final String FIRST_CHUNK = "{\"id\":\"chatcmpl-train\",\"object\":\"chat.completion.chunk\",\"created\":1,"
            + "\"model\":\"trainer-2\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"ok\"},"
            + "\"finish_reason\":null}]}";
    static final String LAST_CHUNK = "{\"id\":\"chatcmpl-train\",\"object\":\"chat.completion.chunk\",\"created\":1,"
            + "\"model\":\"trainer-2\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
            + "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2,\"total_tokens\":14}}";

    private final Vertx vertx;
    private final HttpServer server;
    private final AtomicInteger calls = new AtomicInteger();

    private LoopbackProvider(Vertx vertx) throws Exception {
        this.vertx = vertx;
        this.server = vertx.createHttpServer().requestHandler(this::answer).listen(0, "127.0.0.1")
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    static LoopbackProvider start() throws Exception {
        Vertx vertx = Vertx.vertx();
        try {
            return new LoopbackProvider(vertx);
        } catch (Exception e) {
            vertx.close();
            throw e;
        }
    }

    int port() {
        return server.actualPort();
    }

    int calls() {
        return calls.get();
    }

    private void answer(HttpServerRequest request) {
        request.body().onSuccess(body -> {
            calls.incrementAndGet();
            if (body.toString().contains("\"stream\":true")) {
                request.response().setChunked(true).putHeader("Content-Type", "text/event-stream")
                        .write("data: " + FIRST_CHUNK + "\n\n");
                request.response().write("data: " + LAST_CHUNK + "\n\n");
                request.response().end("data: [DONE]\n\n");
            } else {
                request.response().putHeader("Content-Type", "application/json").end(COMPLETION);
            }
        });
    }

    @Override
    public void close() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
