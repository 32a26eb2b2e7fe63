package io.caravan.intake;

import io.vertx.core.Handler;
import io.vertx.core.http.HttpConnection;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bounds the HTTP server's connections: at most {@code caravan.http.max-connections} are open, a new connection
 * must send its first request head within {@code caravan.http.request-head-timeout}, and a kept-alive connection
 * with no request in progress is closed after {@code caravan.http.idle-timeout}. When the cap is reached, the
 * connection that has waited longest without a request in progress (one that never sent a request first) is
 * closed to make room, so a flood of idle connections cannot lock out a caller with a request to make; only when
 * every open connection is busy with a request is the new one closed at once.
 *
 * <p>Sees connections through the server's connection handler and requests through a router handler that runs
 * before any other. All state is under this object's lock: opening, a request starting and a request ending are a
 * few map and set operations each.
 */
final class ConnectionGate implements Handler<HttpConnection> {

    private final int max;
    private final long headTimeoutNanos;
    private final long idleTimeoutNanos;

    private final Map<HttpConnection, Tracked> open = new HashMap<>();
    /** Connections that never sent a request, oldest first. */
    private final LinkedHashSet<Tracked> fresh = new LinkedHashSet<>();
    /** Connections between requests, longest idle first. */
    private final LinkedHashSet<Tracked> idle = new LinkedHashSet<>();

    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong evicted = new AtomicLong();
    private final AtomicLong timedOut = new AtomicLong();

    ConnectionGate(int max, Duration headTimeout, Duration idleTimeout) {
        if (max < 1) {
            throw new IllegalArgumentException("caravan.http.max-connections must be at least 1");
        }
        this.max = max;
        this.headTimeoutNanos = headTimeout.toNanos();
        this.idleTimeoutNanos = idleTimeout.toNanos();
    }

    private static final class Tracked {
        final HttpConnection connection;
        int requests;
        long since = System.nanoTime();

        Tracked(HttpConnection connection) {
            this.connection = connection;
        }
    }

    /** A new connection (the server's connection handler, on the connection's event loop). */
    @Override
    public void handle(HttpConnection connection) {
        Tracked tracked = new Tracked(connection);
        Tracked victim = null;
        synchronized (this) {
            if (open.size() >= max) {
                victim = longestWaiting();
                if (victim != null) {
                    forget(victim);
                }
            }
            if (open.size() < max) {
                open.put(connection, tracked);
                fresh.add(tracked);
            } else {
                tracked = null;
            }
        }
        if (tracked == null) { // every open connection is busy with a request
            refused.incrementAndGet();
            connection.close();
            return;
        }
        connection.closeHandler(v -> closed(connection));
        if (victim != null) {
            evicted.incrementAndGet();
            victim.connection.close();
        }
    }

    private Tracked longestWaiting() {
        Iterator<Tracked> first = !fresh.isEmpty() ? fresh.iterator() : idle.iterator();
        return first.hasNext() ? first.next() : null;
    }

    private void forget(Tracked tracked) {
        open.remove(tracked.connection);
        fresh.remove(tracked);
        idle.remove(tracked);
    }

    private synchronized void closed(HttpConnection connection) {
        Tracked tracked = open.get(connection);
        if (tracked != null) {
            forget(tracked);
        }
    }

    /** The first router handler: the request's connection is busy until its response ends. */
    Handler<RoutingContext> requests() {
        return rc -> {
            HttpConnection connection = rc.request().connection();
            started(connection);
            rc.addEndHandler(done -> ended(connection));
            rc.next();
        };
    }

    private synchronized void started(HttpConnection connection) {
        Tracked tracked = open.get(connection);
        if (tracked != null) {
            tracked.requests++;
            fresh.remove(tracked);
            idle.remove(tracked);
        }
    }

    private synchronized void ended(HttpConnection connection) {
        Tracked tracked = open.get(connection);
        if (tracked != null && --tracked.requests == 0) {
            tracked.since = System.nanoTime();
            idle.add(tracked);
        }
    }

    /** Closes the connections that waited too long for a request (run every second or so). */
    void sweep() {
        long now = System.nanoTime();
        List<HttpConnection> expired = new ArrayList<>();
        synchronized (this) {
            expire(fresh, now, headTimeoutNanos, expired);
            expire(idle, now, idleTimeoutNanos, expired);
        }
        timedOut.addAndGet(expired.size());
        expired.forEach(HttpConnection::close);
    }

    private void expire(LinkedHashSet<Tracked> waiting, long now, long timeout, List<HttpConnection> expired) {
        for (Iterator<Tracked> it = waiting.iterator(); it.hasNext(); ) {
            Tracked tracked = it.next();
            if (now - tracked.since < timeout) {
                return; // the rest waited less
            }
            it.remove();
            open.remove(tracked.connection);
            expired.add(tracked.connection);
        }
    }

    int max() {
        return max;
    }

    synchronized int openConnections() {
        return open.size();
    }

    long refused() {
        return refused.get();
    }

    long evicted() {
        return evicted.get();
    }

    long timedOut() {
        return timedOut.get();
    }
}
