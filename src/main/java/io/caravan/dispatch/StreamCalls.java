package io.caravan.dispatch;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.BoundedResponse;
import io.caravan.provider.Headroom;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderAdapters;
import io.caravan.provider.ProviderStream;
import io.caravan.provider.ResponseLimits;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.FleetState;
import io.caravan.resilience.ProviderError;
import io.caravan.task.TaskContext;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.support.DefaultExchange;
import org.apache.hc.core5.http.io.EofSensorInputStream;

/**
 * The streaming variant of the deployment attempt (a streaming chat request, {@link #WANTED}): the same route,
 * breaker, retries and fallback as a plain call, but the upstream is asked to stream and only its first delta is
 * read inside the attempt. A failure up to that point (an error status, a reset, a timeout, an error event) is
 * thrown like any failed call, so it is retried and falls back; once the first delta is in, the stream is handed to
 * the task ({@link TaskContext#streaming}) and the caller's intake writes it.
 *
 * <p>The streaming endpoint has {@code disableStreamCache=true}, so camel-http hands over the live response stream
 * instead of reading it to the end. camel-http closes that stream when the exchange completes, and the circuit
 * breaker runs its steps on a copy that completes as the attempt ends, so {@link #open} takes those completions
 * over: from then on the stream is closed (at its end) or aborted (on a break or a departed caller) by its reader.
 *
 * <p>The stream is read within its {@link ResponseLimits} (one SSE line, one event, the whole); until its first
 * delta the call is bounded as a whole by {@link CallDeadlines}, afterwards by the task's deadline
 * ({@code ChatStreamWriter}) and by the provider's timeout for each read.
 */
public final class StreamCalls {

    /** Exchange property set by an intake that wants the answer streamed. */
    public static final String WANTED = "caravanStream";

    private final UpstreamEndpoints endpoints;
    private final ResponseLimits limits;
    private final FleetState fleet;

    public StreamCalls(UpstreamEndpoints endpoints, ResponseLimits limits, FleetState fleet) {
        this.endpoints = endpoints;
        this.limits = limits;
        this.fleet = fleet;
    }

    /** Whether this attempt streams: the caller asked for it and the deployment's adapter can. */
    public static boolean wanted(Exchange exchange) {
        if (exchange.getProperty(WANTED) == null) {
            return false;
        }
        TaskContext ctx = TaskContext.of(exchange);
        return ctx != null && ctx.current() != null && adapter(ctx).streams();
    }

    /**
     * After {@code providerCalls.prepare}, which already built (and authenticated) the streaming body: the
     * streaming endpoint and the {@code Accept} of the adapter's framing.
     */
    public void prepare(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        DeploymentSpec deployment = ctx.current().deployment();
        ProviderSpec provider = ctx.catalog().providerOf(deployment);
        exchange.setProperty(ProviderCalls.UPSTREAM,
                endpoints.resolve(exchange.getContext(), DeploymentRoutes.streamUpstreamUri(provider, deployment)));
        exchange.getMessage().setHeader("Accept", adapter(ctx).streamFraming().mediaType());
    }

    /** Reads the status and the first delta; hands the stream to the task, or throws a classified error. */
    public void open(Exchange exchange) throws IOException {
        TaskContext ctx = TaskContext.of(exchange);
        DeploymentSpec deployment = ctx.current().deployment();
        ProviderSpec provider = ctx.catalog().providerOf(deployment);
        ProviderAdapter adapter = adapter(ctx);
        ResponseLimits bounds = limits.forMaxResponseBytes(provider.maxResponseBytes());
        String what = "the stream of provider " + provider.name();
        Message message = exchange.getMessage();
        Integer code = message.getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
        int status = code == null ? 200 : code;
        Map<String, Object> headers = new HashMap<>(message.getHeaders());
        // as for a plain call: what the provider says is left of the key's limit caps this instance and goes out
        Headroom headroom = Headroom.read(provider.api(), headers, Instant.now());
        ctx.callLimits(null, headroom);
        fleet.reported(provider, ctx.callKey(), headroom);
        if (status < 200 || status >= 300) {
            byte[] body = ProviderCalls.readBody(exchange, bounds, what, status);
            message.setBody(null);
            adapter.readResponse(status, headers, body, deployment); // throws the classified error
            throw new ProviderError(ErrorClass.SERVER_ERROR, status, adapter.api() + " answered " + status);
        }
        CallDeadlines.Call call = CallDeadlines.of(exchange);
        try {
            InputStream raw = message.getBody(InputStream.class);
            if (raw == null) {
                throw new ProviderError(ErrorClass.SERVER_ERROR, status, adapter.api() + " stream without a body");
            }
            // the stream outlives this exchange (the breaker's copy): keep camel-http from draining it at its end
            exchange.getExchangeExtension().handoverCompletions(new DefaultExchange(exchange.getContext()));
            message.getHeaders().clear();
            message.setBody(null);
            Runnable abort = call != null ? call::abort : () -> abort(raw);
            // binary frames carry their own lengths: only the whole is bounded here, each frame by its decoder
            InputStream bounded = adapter.streamFraming() == ProviderAdapter.Framing.SSE
                    ? BoundedResponse.sse(raw, bounds, what, status) : BoundedResponse.body(raw, bounds, what, status);
            ProviderStream stream = adapter.openStream(bounded, headers, deployment, abort);
            try {
                stream.peek();
            } catch (IOException | RuntimeException e) {
                stream.abort();
                if (call != null && call.expired() && !(e instanceof ProviderError)) {
                    throw call.timeout();
                }
                throw e;
            }
            ctx.streaming(stream, ctx.current());
        } finally {
            // from its first delta on, the stream is bounded by the task's deadline and each read's timeout
            if (call != null) {
                call.finish();
            }
        }
    }

    /** Drops the upstream connection (a blocked read fails at once); a plain close would drain the body first. */
    static void abort(InputStream body) {
        try {
            if (body instanceof EofSensorInputStream sensor) {
                sensor.abort();
            } else {
                body.close();
            }
        } catch (IOException | RuntimeException ignored) {
            // already closed
        }
    }

    private static ProviderAdapter adapter(TaskContext ctx) {
        return ProviderAdapters.forProvider(ctx.catalog().providerOf(ctx.current().deployment()));
    }
}
