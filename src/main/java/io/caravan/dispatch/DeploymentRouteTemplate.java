package io.caravan.dispatch;

import org.apache.camel.builder.RouteBuilder;

/**
 * The route template every catalog deployment is made from (see {@link DeploymentRoutes}). The Circuit Breaker
 * EIP guards the deployment; the route's error handling retries the call on the same deployment (next key,
 * backoff or the server's wait, as {@link RetryPolicy} decides), records each failed attempt
 * ({@link AttemptRecorder}), and then lets the dispatch route's dynamic router pick the next deployment.
 */
public final class DeploymentRouteTemplate extends RouteBuilder {

    /** The single call through the deployment's breaker, retried as a whole by the deployment route. */
    public static final String ATTEMPT_TEMPLATE = "deployment-attempt";

    @Override
    public void configure() {
        routeTemplate(DeploymentRoutes.TEMPLATE)
                .templateParameter("key")
                .from("direct:deployment-{{key}}")
                    .onException(Exception.class)
                        .onExceptionOccurredRef("attemptRecorder")
                        .retryWhile(method("retryPolicy", "shouldRetry"))
                        .maximumRedeliveries(-1)
                        .redeliveryDelay(0)
                        .logRetryAttempted(false)
                        .logExhausted(false)
                        .logHandled(false)
                        .logContinued(false)
                        // the failure is recorded; the dynamic router decides what comes next
                        .continued(true)
                    .end()
                    // one redelivery of this step is one more call through the breaker
                    .to("direct:attempt-{{key}}");

        routeTemplate(ATTEMPT_TEMPLATE)
                .templateParameter("key")
                .templateParameter("breaker")
                .from("direct:attempt-{{key}}")
                    // failures travel back to the deployment route, whose error handling owns them
                    .errorHandler(noErrorHandler())
                    // a prompt that cannot fit is skipped before the breaker: it says nothing of the deployment
                    .bean("providerCalls", "checkContextWindow")
                    .circuitBreaker()
                        .resilience4jConfiguration()
                            .circuitBreaker("{{breaker}}")
                            .throwExceptionWhenHalfOpenOrOpenState(true)
                        .end()
                        .bean("providerCalls", "prepare")
                        // a streaming chat request asks for a stream; its first delta is read inside the attempt
                        // a plain Java predicate: a bean predicate would copy the exchange on every call
                        .filter(StreamCalls::wanted)
                            .bean("streamCalls", "prepare")
                        .end()
                        // the task's own catalog decides the endpoint (resolved once per URI by prepare), so a
                        // catalog reload never needs to replace a route that tasks of the old catalog may still use
                        .toD().uri("${exchangeProperty." + ProviderCalls.UPSTREAM + "}")
                            .allowOptimisedComponents(false)
                        .choice()
                            .when(StreamCalls::wanted)
                                .bean("streamCalls", "open")
                            .otherwise()
                                .bean("providerCalls", "complete")
                        .end()
                    .end();
    }
}
