package io.caravan.dispatch;

import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.task.TaskContext;
import io.caravan.util.CamelTimer;
import java.io.IOException;
import java.util.concurrent.ScheduledExecutorService;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.component.http.HttpActivityListener;
import org.apache.camel.component.http.HttpClientConfigurer;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.core5.concurrent.Cancellable;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.HttpRequest;
import org.apache.hc.core5.http.HttpResponse;

/**
 * Lets a caller who goes away abort the provider call in flight ({@link TaskContext#markCallerGone}), so a
 * disconnected client stops costing an upstream connection and tokens. camel-http has no per-exchange hook, so
 * this sits in its HTTP client: an exec-chain step finds the exchange in the client context and hands the request's
 * cancel to the task. camel-http puts the exchange into that context only when an activity listener is set, which
 * is the only reason this class is also one (it listens to nothing).
 */
public final class CallCancellation implements HttpClientConfigurer, HttpActivityListener {

    /** The client-context attribute under which camel-http puts the exchange. */
    private static final String EXCHANGE_ATTRIBUTE = Exchange.class.getName();

    /** The timers of the calls' deadlines ({@link CallDeadlines}); Camel's, so the thread stops with the context. */
    private final CamelTimer deadlines = new CamelTimer(this, "caravan-call-deadlines");

    private ScheduledExecutorService deadlines(CamelContext camel) {
        return deadlines.of(camel);
    }

    @Override
    public void configureHttpClient(HttpClientBuilder builder) {
        CallDeadlines.addTo(builder, this::deadlines); // the same client hook bounds each call as a whole
        builder.addExecInterceptorFirst("caravan-call-cancellation", (request, scope, chain) -> {
            if (scope.clientContext.getAttribute(EXCHANGE_ATTRIBUTE) instanceof Exchange exchange
                    && exchange.getProperty(TaskContext.PROPERTY) instanceof TaskContext ctx
                    && scope.originalRequest instanceof Cancellable call) {
                ctx.abortCallWith(call::cancel);
                try {
                    return chain.proceed(request, scope);
                } catch (IOException e) {
                    if (ctx.callerGone()) { // the abort, not the provider, broke the connection
                        throw new ProviderError(ErrorClass.CANCELLED, null, "the caller went away during the call");
                    }
                    throw e;
                }
            }
            return chain.proceed(request, scope);
        });
    }

    @Override
    public void onRequestSubmitted(Object source, Exchange exchange, HttpHost host, HttpRequest request,
            HttpEntity entity) {
        // nothing: see the class comment
    }

    @Override
    public void onResponseReceived(Object source, Exchange exchange, HttpHost host, HttpResponse response,
            HttpEntity entity, long elapsed) {
        // nothing: see the class comment
    }
}
