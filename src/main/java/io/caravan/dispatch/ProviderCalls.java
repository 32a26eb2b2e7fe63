package io.caravan.dispatch;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.AdapterSupport;
import io.caravan.provider.BoundedResponse;
import io.caravan.provider.ChatRequest;
import io.caravan.provider.Headroom;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderAdapters;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.ResponseLimits;
import io.caravan.provider.UpstreamRequest;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.FleetState;
import io.caravan.resilience.KeyPool;
import io.caravan.resilience.ProviderError;
import io.caravan.resilience.RateLimits;
import io.caravan.task.Attempt;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskContext.Candidate;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The two steps around the upstream call in the deployment route: {@link #prepare} picks a key and lets the
 * adapter build the request; {@link #complete} lets the adapter read the answer and records the attempt.
 * Failures are thrown as {@link ProviderError} for the circuit breaker and the error handler.
 *
 * <p>camel-http hands the answer over as the live response stream ({@code disableStreamCache}); it is read here
 * within the provider's {@link ResponseLimits} (counted after the client inflated it), and a call that passes
 * them, or its deadline ({@link CallDeadlines}), is aborted rather than drained.
 */
public final class ProviderCalls {

    private static final Logger LOG = LoggerFactory.getLogger(ProviderCalls.class);

    /**
     * The exchange property holding the upstream endpoint of the call (an Endpoint), from the task's own catalog;
     * the attempt route's {@code toD} in {@code routes/deployment.yaml} names it.
     */
    static final String UPSTREAM = "caravanUpstream";

    private final KeyPool keys;
    private final RateLimits limits;
    private final AttemptRecorder recorder;
    private final UpstreamEndpoints endpoints;
    private final ResponseLimits responseLimits;
    private final FleetState fleet;
    private volatile FairShare fairShare;

    public ProviderCalls(KeyPool keys, RateLimits limits, AttemptRecorder recorder, UpstreamEndpoints endpoints,
            ResponseLimits responseLimits, FleetState fleet) {
        this.fleet = fleet;
        this.keys = keys;
        this.limits = limits;
        this.recorder = recorder;
        this.endpoints = endpoints;
        this.responseLimits = responseLimits;
    }

    /** Shares each rate-limited provider's capacity fairly between the tenants waiting for it (null: off). */
    public ProviderCalls sharedFairly(FairShare fairShare) {
        this.fairShare = fairShare;
        return this;
    }

    /** Tokens a call of this task is counted for before the answer: prompt estimate plus requested output. */
    public static long estimateTokens(TaskContext ctx) {
        long prompt = PromptSize.estimateTokens(ctx.task().messages(), ctx.task().params());
        Integer output = AdapterSupport.maxTokens(ctx.task().params());
        return prompt + (output == null ? 0 : output);
    }

    /**
     * The pre-call check: a deployment whose context window cannot take the prompt (estimated) plus the
     * requested output is skipped without a call, as a {@code context_window} attempt.
     */
    public void checkContextWindow(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        DeploymentSpec deployment = ctx.current().deployment();
        if (deployment.contextWindow() == null) {
            return;
        }
        long prompt = PromptSize.estimateTokens(ctx.task().messages(), ctx.task().params());
        Integer output = AdapterSupport.maxTokens(ctx.task().params());
        long needed = prompt + (output == null ? 0 : output);
        if (needed > deployment.contextWindow()) {
            throw ProviderError.skipped(ErrorClass.CONTEXT_WINDOW, "prompt of about " + prompt + " tokens"
                    + (output == null ? "" : " plus " + output + " output tokens") + " does not fit the context window of "
                    + deployment.contextWindow() + " of " + deployment.id(), null);
        }
    }

    public void prepare(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        DeploymentSpec deployment = ctx.current().deployment();
        ProviderSpec provider = ctx.catalog().providerOf(deployment);
        ProviderAdapter adapter = ProviderAdapters.forProvider(provider);
        int keyIndex = -1;
        String key = null;
        long estimate = estimateTokens(ctx);
        if (keys.size(provider.name()) > 0) {
            FairShare fair = fairShare;
            // a task woken by the fair share has its call's capacity taken already
            keyIndex = fair == null ? -1 : fair.granted(ctx, provider.name());
            if (keyIndex < 0 && fair != null && fair.queueing(ctx, provider)) {
                // tasks of tenants wait for this provider: this one queues behind them, without a call
                throw ProviderError.skipped(ErrorClass.RATE_LIMITED, "tasks wait for provider " + provider.name()
                        + "'s capacity: this one takes its turn after them", java.time.Duration.ZERO);
            }
            if (keyIndex < 0) {
                keyIndex = keys.pick(provider.name(), k -> limits.tryAcquire(provider, k, estimate));
            }
            if (keyIndex < 0) {
                if (keys.pick(provider.name()) >= 0) {
                    // keys are usable but none has rpm/tpm capacity left: skip without a call
                    throw ProviderError.skipped(ErrorClass.RATE_LIMITED,
                            "every key of provider " + provider.name() + " is at its rpm/tpm limit",
                            limits.untilCapacity(provider, keys.size(provider.name()), estimate));
                }
                throw ProviderError.skipped(ErrorClass.RATE_LIMITED,
                        "every key of provider " + provider.name() + " is cooling down",
                        keys.untilAvailable(provider.name()));
            }
            key = keys.key(provider.name(), keyIndex);
        }
        CallDeadlines.clear(exchange);
        exchange.setProperty(UPSTREAM,
                endpoints.resolve(exchange.getContext(), DeploymentRoutes.upstreamUri(provider, deployment)));
        // the body and URL are final before the authentication step sees them (a signature covers both)
        boolean streaming = StreamCalls.wanted(exchange);
        ChatRequest request = new ChatRequest(ctx.task().messages(), ctx.task().params());
        String url = streaming ? adapter.streamEndpoint(provider, deployment) : adapter.endpoint(provider, deployment);
        byte[] body = streaming ? adapter.streamRequestBody(request, provider, deployment)
                : adapter.requestBody(request, provider, deployment);
        Message message = exchange.getMessage();
        message.getHeaders().clear();
        adapter.requestHeaders(new UpstreamRequest(provider, url, body, key, streaming)).forEach(message::setHeader);
        if (url.startsWith("http:") || url.startsWith("https:")) {
            // camel-http would send the endpoint's URI re-encoded (%3A back to ':'); send the very URL that was signed
            message.setHeader(Exchange.HTTP_URI, url);
        }
        message.setBody(body);
        String keyId = keyIndex >= 0 ? keys.keyId(provider.name(), keyIndex) : cloudKeyId(adapter, provider);
        recorder.begin(ctx, deployment, keyIndex, keyId, estimate);
    }

    /** The usage event's {@code key_id} of a keyless call: the fingerprint of the cloud identity, never a secret. */
    private static String cloudKeyId(ProviderAdapter adapter, ProviderSpec provider) {
        String identity = adapter.credentialIdentity(provider);
        return identity == null ? null : KeyPool.fingerprint(identity);
    }

    public void complete(Exchange exchange) throws IOException {
        TaskContext ctx = TaskContext.of(exchange);
        Candidate candidate = ctx.current();
        DeploymentSpec deployment = candidate.deployment();
        ProviderSpec provider = ctx.catalog().providerOf(deployment);
        Message message = exchange.getMessage();
        Integer status = message.getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
        byte[] body = readBody(exchange, responseLimits.forMaxResponseBytes(provider.maxResponseBytes()),
                "the answer of provider " + provider.name(), status);
        Map<String, Object> headers = new HashMap<>(message.getHeaders());
        message.getHeaders().clear();
        message.setBody(null);
        // what the provider says is left of the key's limit travels with the attempt, failed or not
        Headroom headroom = Headroom.read(provider.api(), headers, Instant.now());
        ctx.callLimits(null, headroom);
        fleet.reported(provider, ctx.callKey(), headroom);
        ProviderReply reply = ProviderAdapters.forProvider(provider)
                .readResponse(status == null ? 200 : status, headers, body, deployment);
        Attempt answered = recorder.succeeded(ctx, candidate, status == null ? 200 : status, reply.usage());
        Attempt previous = ctx.previousAttempt();
        // after a wait or an escalation nothing was recovered; after a failure something was
        if (previous != null && previous.outcome().isFailure()) {
            LOG.info("recovered task={} requested_model={} original={} chosen={} attempt={} error={}",
                    ctx.task().id(), ctx.task().model(), ctx.attempts().get(0).deployment(), deployment.id(),
                    answered.number(), previous.outcome());
        }
        ctx.succeed(reply, candidate);
    }

    /**
     * The whole answer of the call, read within its size bound; the call is aborted, not drained, when the read
     * fails (the bound passed, the deadline, a broken connection), and its timer stops either way.
     */
    static byte[] readBody(Exchange exchange, ResponseLimits limits, String what, Integer status) throws IOException {
        CallDeadlines.Call call = CallDeadlines.of(exchange);
        Message message = exchange.getMessage();
        try {
            if (message.getBody() == null || message.getBody() instanceof byte[]) {
                return message.getBody(byte[].class); // no HTTP stream: an in-process upstream (simulated)
            }
            InputStream in = message.getBody(InputStream.class);
            return in == null ? null : BoundedResponse.body(in, limits, what, status).readAllBytes();
        } catch (IOException | RuntimeException e) {
            if (call != null) {
                call.abort();
                if (call.expired() && !(e instanceof ProviderError)) {
                    throw call.timeout();
                }
            }
            throw e;
        } finally {
            if (call != null) {
                call.finish();
            }
        }
    }
}
