package io.caravan.dispatch;

import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.task.TaskContext;
import java.io.IOException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.core5.concurrent.Cancellable;

/**
 * Bounds each provider call as a whole: it is aborted (its connection dropped, not drained) at the smaller of the
 * provider's {@code timeout} and the task's remaining time, and then fails as {@code timeout}. The HTTP client's
 * own timeouts bound each connect and each read only, so an upstream dripping a byte now and then, or a stream
 * sending keep-alive comments but never an event, would otherwise hold the call for as long as it likes.
 *
 * <p>An exec-chain step of camel-http's client starts the call's timer as the request goes out and keeps the
 * {@link Call} on the exchange; the attempt's last step ({@code providerCalls.complete} once the whole body is
 * read, {@code streamCalls.open} once the first delta is in) stops it. All calls of a Caravan share one timer
 * thread (its {@link CallCancellation}'s, from Camel's executor service manager, so it stops with the context), and
 * a stopped timer is removed at once, so the timers pending are the calls in flight.
 */
public final class CallDeadlines {

    /** The exchange property holding the {@link Call} of the attempt in progress. */
    static final String PROPERTY = "caravanUpstreamCall";
    /** The client-context attribute under which camel-http puts the exchange (it does when an activity listener is set). */
    private static final String EXCHANGE_ATTRIBUTE = Exchange.class.getName();

    private CallDeadlines() {}

    /** Adds the step that times each provider call to camel-http's client, on the timer thread of the exchange's context. */
    static void addTo(HttpClientBuilder builder, Function<CamelContext, ScheduledExecutorService> timers) {
        builder.addExecInterceptorFirst("caravan-call-deadline", (request, scope, chain) -> {
            if (!(scope.clientContext.getAttribute(EXCHANGE_ATTRIBUTE) instanceof Exchange exchange)
                    || !(exchange.getProperty(TaskContext.PROPERTY) instanceof TaskContext ctx)
                    || ctx.current() == null
                    || !(scope.originalRequest instanceof Cancellable cancellable)) {
                return chain.proceed(request, scope);
            }
            long providerMs = ctx.catalog().providerOf(ctx.current().deployment()).timeout().toMillis();
            long taskMs = ctx.remainingMs();
            Call call = taskMs < providerMs ? new Call(cancellable, taskMs, "the task's timeout_ms")
                    : new Call(cancellable, providerMs, "the provider's timeout");
            if (call.budgetMs <= 0) {
                throw call.timeout();
            }
            exchange.setProperty(PROPERTY, call);
            call.start(timers.apply(exchange.getContext()));
            try {
                return chain.proceed(request, scope);
            } catch (IOException | RuntimeException e) {
                call.finish();
                if (call.expired() && !(e instanceof ProviderError)) {
                    throw call.timeout();
                }
                throw e;
            }
        });
    }

    /** The call of the attempt in progress on this exchange, or null (no HTTP call, or not one of a task). */
    static Call of(Exchange exchange) {
        return exchange.getProperty(PROPERTY, Call.class);
    }

    /** Forgets the previous attempt's call before a new one is prepared. */
    static void clear(Exchange exchange) {
        exchange.removeProperty(PROPERTY);
    }

    /** One provider call in flight: its timer, and the abort of its request. */
    static final class Call {

        private final Cancellable request;
        private final long budgetMs;
        private final String bound;
        private volatile boolean expired;
        private volatile ScheduledFuture<?> timer;

        Call(Cancellable request, long budgetMs, String bound) {
            this.request = request;
            this.budgetMs = budgetMs;
            this.bound = bound;
        }

        private void start(ScheduledExecutorService timers) {
            timer = timers.schedule(() -> {
                expired = true;
                request.cancel();
            }, budgetMs, TimeUnit.MILLISECONDS);
        }

        /** Whether the call was aborted for its deadline. */
        boolean expired() {
            return expired;
        }

        /** The call is over, or no longer bounded as a call (a stream handed to its reader): stops the timer. */
        void finish() {
            ScheduledFuture<?> t = timer;
            if (t != null) {
                t.cancel(false);
            }
        }

        /** Drops the connection of the call (a blocked read fails at once); never drains it. Safe from any thread. */
        void abort() {
            request.cancel();
        }

        /** The failure of a call cut off at its deadline. */
        ProviderError timeout() {
            return new ProviderError(ErrorClass.TIMEOUT, null,
                    "no complete answer within " + budgetMs + " ms (" + bound + ")");
        }
    }
}
