package io.caravan.dispatch;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.ProviderAdapters;
import io.caravan.resilience.Breakers;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import org.apache.camel.CamelContext;
import org.apache.camel.builder.TemplatedRouteBuilder;
import org.apache.camel.component.http.HttpEndpoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Generates the routes of each deployment from the route templates of {@code routes/deployment.yaml}: the catalog
 * is data, the routes are made from it.
 */
public final class DeploymentRoutes {

    private static final Logger LOG = LoggerFactory.getLogger(DeploymentRoutes.class);

    /** The template of the deployment route (retries on the same deployment). */
    public static final String TEMPLATE = "deployment";
    /** The template of one call through the deployment's breaker. */
    public static final String ATTEMPT_TEMPLATE = "deployment-attempt";

    private final Breakers breakers;
    private final UpstreamEndpoints upstreams;

    public DeploymentRoutes(Breakers breakers, UpstreamEndpoints upstreams) {
        this.breakers = breakers;
        this.upstreams = upstreams;
    }

    public static String endpoint(DeploymentSpec deployment) {
        return "direct:deployment-" + deployment.routeKey();
    }

    public static String routeId(DeploymentSpec deployment) {
        return "deployment-" + deployment.routeKey();
    }

    public void addAll(CamelContext camel, Catalog catalog) {
        for (DeploymentSpec deployment : catalog.deployments()) {
            add(camel, catalog, deployment);
        }
        buildClients(camel, catalog, catalog.deployments());
    }

    /**
     * After a catalog reload: adds the routes of deployments that have none yet. Routes of existing deployments
     * stay (their breaker and everything else they use come by deployment id or from the task's own catalog);
     * routes of deployments no longer in the catalog stay too, idle, for tasks of the old catalog still in flight.
     */
    public int addMissing(CamelContext camel, Catalog catalog) {
        List<DeploymentSpec> added = new ArrayList<>();
        for (DeploymentSpec deployment : catalog.deployments()) {
            if (camel.getRoute(routeId(deployment)) == null) {
                add(camel, catalog, deployment);
                added.add(deployment);
            }
        }
        buildClients(camel, catalog, added);
        return added.size();
    }

    /**
     * Builds the deployments' HTTP clients in the background, on a thread of the context that ends when they are
     * built. camel-http builds a client on its endpoint's first call, with every other call to it waiting: a
     * second or more on a loaded machine, after which the calls counted in one rpm window reach the provider in the
     * next one, on top of that window's own (429s beyond the key's limit). The first call builds it if this has not.
     */
    private void buildClients(CamelContext camel, Catalog catalog, List<DeploymentSpec> deployments) {
        List<String> uris = deployments.stream().map(d -> upstreamUri(catalog.providerOf(d), d))
                .filter(uri -> uri.startsWith("http:") || uri.startsWith("https:")).distinct().toList();
        if (uris.isEmpty()) {
            return;
        }
        ExecutorService thread = camel.getExecutorServiceManager().newSingleThreadExecutor(this, "caravan-http-clients");
        thread.execute(() -> {
            for (String uri : uris) {
                try {
                    if (upstreams.resolve(camel, uri) instanceof HttpEndpoint http) {
                        http.getHttpClient();
                    }
                } catch (RuntimeException e) {
                    LOG.debug("an HTTP client is built on its first call instead: {}", e.getClass().getName());
                }
            }
        });
        thread.shutdown();
    }

    public void add(CamelContext camel, Catalog catalog, DeploymentSpec deployment) {
        String breaker = Breakers.beanName(deployment);
        camel.getRegistry().bind(breaker, breakers.forDeployment(deployment, catalog.circuitBreaker()));
        TemplatedRouteBuilder.builder(camel, TEMPLATE)
                .routeId(routeId(deployment))
                .parameter("key", deployment.routeKey())
                .add();
        TemplatedRouteBuilder.builder(camel, ATTEMPT_TEMPLATE)
                .routeId("attempt-" + deployment.routeKey())
                .parameter("key", deployment.routeKey())
                .parameter("breaker", breaker)
                .add();
    }

    /**
     * The provider endpoint with the timeouts of the provider. The live response stream is handed over
     * ({@code disableStreamCache}) so that the answer is read within its size bound and never buffered whole by
     * camel-http; the timeouts bound the connect and each read, {@link CallDeadlines} the call as a whole.
     */
    static String upstreamUri(ProviderSpec provider, DeploymentSpec deployment) {
        return withOptions(ProviderAdapters.forProvider(provider).endpoint(provider, deployment), provider);
    }

    /** The streaming endpoint; the provider's timeout also bounds each read, so a stream that stalls longer fails. */
    static String streamUpstreamUri(ProviderSpec provider, DeploymentSpec deployment) {
        return withOptions(ProviderAdapters.forProvider(provider).streamEndpoint(provider, deployment), provider);
    }

    private static String withOptions(String base, ProviderSpec provider) {
        if (!base.startsWith("http:") && !base.startsWith("https:")) {
            return base;
        }
        long timeoutMs = provider.timeout().toMillis();
        long connectMs = Math.min(timeoutMs, 10_000);
        String separator = base.contains("?") ? "&" : "?";
        return base + separator + "throwExceptionOnFailure=false&httpMethod=POST"
                + "&connectTimeout=" + connectMs + "&soTimeout=" + timeoutMs + "&responseTimeout=" + timeoutMs
                + "&disableStreamCache=true";
    }
}
