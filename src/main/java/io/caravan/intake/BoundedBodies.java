package io.caravan.intake;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.util.Json;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.impl.RoutingContextInternal;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads the request bodies of {@code /v1} and {@code /admin}, in place of platform-http's body handler, so that no
 * body is held beyond what Caravan accepts: a body longer than {@code caravan.max-task-bytes} (declared, or counted
 * as it arrives when chunked) gets 413 at the byte that passes the limit and nothing after it is kept; the bytes of
 * all bodies being read or worked on, counted as they arrive and until their response has ended, share
 * {@code caravan.http.max-body-bytes-in-flight} (over it: 503 with {@code Retry-After}); a body must arrive within
 * {@code caravan.http.body-timeout} (408 otherwise). Errors are OpenAI's shape, and the connection is closed after
 * them (the rest of the body was not read).
 *
 * <p>Marks the request's body as read the way Vert.x's own body handler does ({@link RoutingContextInternal}), so
 * the body handler platform-http puts on each route passes the body through untouched.
 */
final class BoundedBodies implements Handler<RoutingContext> {

    /** How long a refused upload may go on sending (discarded) before its connection is closed. */
    private static final long LINGER_MS = 1_000;

    private final long maxBodyBytes;
    private final long budgetBytes;
    private final long timeoutMs;
    private final AtomicLong inFlight = new AtomicLong();
    private final AtomicLong refusedTooLarge = new AtomicLong();
    private final AtomicLong refusedBusy = new AtomicLong();

    BoundedBodies(long maxBodyBytes, long budgetBytes, Duration timeout) {
        this.maxBodyBytes = maxBodyBytes;
        this.budgetBytes = Math.max(budgetBytes, maxBodyBytes);
        this.timeoutMs = Math.max(1, timeout.toMillis());
    }

    @Override
    public void handle(RoutingContext rc) {
        RoutingContextInternal context = (RoutingContextInternal) rc;
        HttpServerRequest request = rc.request();
        if (context.seenHandler(RoutingContextInternal.BODY_HANDLER) || request.isEnded()) {
            rc.next();
            return;
        }
        context.visitHandler(RoutingContextInternal.BODY_HANDLER);
        long declared = declaredLength(request);
        boolean chunked = request.headers().contains(HttpHeaders.TRANSFER_ENCODING);
        if (declared < 0 && !chunked) {
            rc.next(); // no body
            return;
        }
        if (declared > maxBodyBytes) {
            tooLarge(rc, declared + " bytes");
            return;
        }
        Read read = new Read(rc);
        rc.addEndHandler(done -> read.release());
        if ("100-continue".equalsIgnoreCase(request.getHeader(HttpHeaders.EXPECT))) {
            rc.response().writeContinue(); // only now: a body over the limit was refused without being sent
        }
        read.timer = rc.vertx().setTimer(timeoutMs, t -> read.timeUp());
        request.handler(read::chunk);
        request.endHandler(v -> read.end());
        request.exceptionHandler(e -> read.broken());
        request.resume();
    }

    /** One body being read; its bytes count against the budget until its response has ended. */
    private final class Read {
        final RoutingContext rc;
        /** The chunks as they came: one body of the exact size is made at the end, not a buffer grown by doubling. */
        final java.util.ArrayList<Buffer> chunks = new java.util.ArrayList<>();
        int length;
        long reserved;
        long timer;
        boolean finished;

        Read(RoutingContext rc) {
            this.rc = rc;
        }

        boolean reserve(long bytes) {
            long now;
            do {
                now = inFlight.get();
                if (now + bytes > budgetBytes) {
                    return false;
                }
            } while (!inFlight.compareAndSet(now, now + bytes));
            reserved += bytes;
            return true;
        }

        void release() {
            inFlight.addAndGet(-reserved);
            reserved = 0;
        }

        void chunk(Buffer chunk) {
            if (finished) {
                return; // refused: what is still coming is dropped
            }
            if ((long) length + chunk.length() > maxBodyBytes) {
                drop();
                tooLarge(rc, "more than " + maxBodyBytes + " bytes");
                return;
            }
            if (!reserve(chunk.length())) { // counted as they arrive: a body that is only declared holds nothing
                drop();
                busy(rc);
                return;
            }
            chunks.add(chunk);
            length += chunk.length();
        }

        void end() {
            if (finished) {
                return;
            }
            finish();
            Buffer body = chunks.size() == 1 ? chunks.get(0) : Buffer.buffer(length);
            if (chunks.size() != 1) {
                chunks.forEach(body::appendBuffer);
            }
            chunks.clear();
            ((RoutingContextInternal) rc).setBody(body);
            rc.next();
        }

        void timeUp() {
            if (finished) {
                return;
            }
            drop();
            release();
            refuse(rc, 408, "the request body did not arrive within " + timeoutMs + " ms", "request_timeout", null);
        }

        void broken() {
            if (!finished) {
                drop();
            }
        }

        /** Refused or broken: nothing read is kept. */
        private void drop() {
            finish();
            chunks.clear();
        }

        private void finish() {
            finished = true;
            rc.vertx().cancelTimer(timer);
        }
    }

    private void tooLarge(RoutingContext rc, String size) {
        refusedTooLarge.incrementAndGet();
        refuse(rc, 413, "the request body is " + size + ", over the limit of " + maxBodyBytes + " bytes",
                "request_too_large", null);
    }

    private void busy(RoutingContext rc) {
        refusedBusy.incrementAndGet();
        refuse(rc, 503, "too many request bodies are being read at once; retry shortly", "server_busy", "1");
    }

    /** Answers with an OpenAI error and closes the connection: the rest of the body is not read. */
    private static void refuse(RoutingContext rc, int status, String message, String code, String retryAfter) {
        HttpServerRequest request = rc.request();
        request.handler(chunk -> { }); // drained and dropped until the connection closes
        request.endHandler(v -> request.connection().close());
        request.resume();
        rc.vertx().setTimer(LINGER_MS, t -> request.connection().close());
        if (rc.response().ended() || rc.response().closed()) {
            return;
        }
        String type = status == 413 || status == 408 ? "invalid_request_error" : "server_error";
        ObjectNode error = io.caravan.outlet.OpenAiWire.errorBody(message, type, code);
        var response = rc.response().setStatusCode(status)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .putHeader(HttpHeaders.CONNECTION, "close");
        if (retryAfter != null) {
            response.putHeader("Retry-After", retryAfter);
        }
        response.end(Buffer.buffer(Json.bytes(error)));
    }

    private static long declaredLength(HttpServerRequest request) {
        String value = request.getHeader(HttpHeaders.CONTENT_LENGTH);
        if (value == null) {
            return -1;
        }
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            return -1; // Vert.x's decoder refuses a malformed length before this
        }
    }

    long inFlightBytes() {
        return inFlight.get();
    }

    long refusedTooLarge() {
        return refusedTooLarge.get();
    }

    long refusedBusy() {
        return refusedBusy.get();
    }
}
