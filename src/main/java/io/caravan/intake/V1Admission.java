package io.caravan.intake;

import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayDeque;

/**
 * Lets at most {@code caravan.max-in-flight} {@code /v1} requests at a time on to their routes, each of which holds
 * a Vert.x worker thread for its whole provider call; the worker pool is larger by {@link #OPERATIONS_WORKERS}, so
 * {@code /health/*}, {@code /metrics}, {@code /status} and {@code /admin} always find a free worker however many
 * provider calls hang. The others wait here, on the event loop, without a thread, in arrival order; there are at
 * most as many as there are open connections (see {@link ConnectionGate}).
 */
final class V1Admission implements Handler<RoutingContext> {

    /** Workers kept for the operations endpoints beyond the /v1 requests' share. */
    static final int OPERATIONS_WORKERS = 16;

    private final int permits;
    private final int maxWaiting;
    private int running;
    private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();

    private record Waiting(RoutingContext rc, Context context) {}

    V1Admission(int permits, int maxWaiting) {
        this.permits = permits;
        this.maxWaiting = maxWaiting;
    }

    @Override
    public void handle(RoutingContext rc) {
        synchronized (this) {
            if (running >= permits) {
                if (waiting.size() >= maxWaiting) {
                    waiting.removeIf(w -> w.rc.response().closed());
                }
                waiting.add(new Waiting(rc, Vertx.currentContext()));
                return;
            }
            running++;
        }
        admit(rc);
    }

    private void admit(RoutingContext rc) {
        if (rc.response().closed()) { // left while waiting
            release();
            return;
        }
        rc.addEndHandler(done -> release());
        rc.next();
    }

    private void release() {
        Waiting next;
        synchronized (this) {
            do {
                next = waiting.poll();
            } while (next != null && next.rc.response().closed());
            if (next == null) {
                running--;
                return;
            }
        }
        Waiting admitted = next; // its permit is the one just given back
        admitted.context.runOnContext(v -> admit(admitted.rc));
    }

    synchronized int running() {
        return running;
    }

    synchronized int waiting() {
        return waiting.size();
    }
}
