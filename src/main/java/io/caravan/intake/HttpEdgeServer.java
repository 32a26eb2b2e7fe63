package io.caravan.intake;

import io.caravan.Setting;
import io.caravan.Settings;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.camel.CamelContext;
import org.apache.camel.ExtendedStartupListener;
import org.apache.camel.Service;
import org.apache.camel.component.platform.http.HttpEndpointModel;
import org.apache.camel.component.platform.http.PlatformHttpComponent;
import org.apache.camel.component.platform.http.main.DefaultMainHttpServerFactory;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpRouter;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpServer;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpServerConfiguration;
import org.apache.camel.main.HttpManagementServerConfigurationProperties;
import org.apache.camel.main.HttpServerConfigurationProperties;
import org.apache.camel.main.MainHttpServerFactory;
import org.apache.camel.support.CamelContextHelper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Caravan's HTTP server: platform-http's Vert.x server (the routes of {@code routes/*.yaml} are served as before)
 * with the edge Caravan needs in front of every route, installed once when the server's router is made:
 * {@link ConnectionGate} (connection cap and timeouts), {@link ApiKeyAuth} on {@code /v1/*}, {@link BoundedBodies}
 * (body size, bytes in flight, body deadline) and {@link V1Admission} (the operations endpoints keep workers).
 * platform-http 4.18 builds its {@link HttpServerOptions} itself with no way to set them, so this server listens
 * with its own; Camel Main uses it through {@link Factory}, a {@link MainHttpServerFactory} in the registry, when
 * {@code camel.server.enabled} is true.
 */
public final class HttpEdgeServer extends VertxPlatformHttpServer {

    private static final Logger LOG = LoggerFactory.getLogger(HttpEdgeServer.class);
    static final String AUTH_ROUTE = "caravan-api-key-check";

    private final VertxPlatformHttpServerConfiguration configuration;
    private final Edge edge;
    private final TenantAuth tenants;
    private ConnectionGate gate;
    private BoundedBodies bodies;
    private V1Admission admission;
    private HttpServer server;
    private long sweeper = -1;

    /** The edge's settings (see application.properties). */
    public record Edge(int maxConnections, Duration headTimeout, Duration idleTimeout, long maxBodyBytes,
            long bodyBytesInFlight, Duration bodyTimeout, int maxInFlight, List<String> apiKeys) {

        public static Edge of(Settings settings) {
            return new Edge(settings.get(Setting.HTTP_MAX_CONNECTIONS),
                    settings.get(Setting.HTTP_REQUEST_HEAD_TIMEOUT),
                    settings.get(Setting.HTTP_IDLE_TIMEOUT),
                    settings.get(Setting.MAX_TASK_BYTES),
                    settings.get(Setting.HTTP_MAX_BODY_BYTES_IN_FLIGHT),
                    settings.get(Setting.HTTP_BODY_TIMEOUT),
                    settings.get(Setting.MAX_IN_FLIGHT),
                    ApiKeyAuth.parse(settings.get(Setting.HTTP_API_KEYS)));
        }

        /** Vert.x workers: one per /v1 request let through, and some for the operations endpoints. */
        public int workerThreads() {
            return maxInFlight + V1Admission.OPERATIONS_WORKERS;
        }
    }

    HttpEdgeServer(VertxPlatformHttpServerConfiguration configuration, Edge edge, TenantAuth tenants) {
        super(configuration);
        this.configuration = configuration;
        this.edge = edge;
        this.tenants = tenants;
    }

    @Override
    protected void initializeServer() {
        super.initializeServer();
        VertxPlatformHttpRouter router = router();
        gate = new ConnectionGate(connectionCap(edge.maxConnections()), edge.headTimeout(), edge.idleTimeout());
        bodies = new BoundedBodies(edge.maxBodyBytes(), edge.bodyBytesInFlight(), edge.bodyTimeout());
        admission = new V1Admission(edge.maxInFlight(), gate.max());
        router.route().order(-3000).setName("caravan-connection-gate").handler(gate.requests());
        if (tenants != null) {
            // always there: it also strips the tenant header callers might send, tenants or not
            router.route("/v1/*").order(-2000).setName(AUTH_ROUTE).handler(tenants);
            LOG.info("API keys on /v1/* {}", tenants.active() ? "required" : "not required (no tenants, no caravan.http.api-keys)");
        } else if (!edge.apiKeys().isEmpty()) {
            router.route("/v1/*").order(-2000).setName(AUTH_ROUTE).handler(new ApiKeyAuth(edge.apiKeys()));
            LOG.info("API keys required on /v1/* ({} keys)", edge.apiKeys().size());
        }
        // the only routes that take a body; elsewhere no route matches a request with one, and it is never read
        router.route("/v1/*").order(-1500).setName("caravan-bounded-bodies").handler(bodies);
        router.route("/admin/*").order(-1500).setName("caravan-bounded-admin-bodies").handler(bodies);
        router.route("/v1/*").order(-1000).setName("caravan-v1-admission").handler(admission);
        meters();
    }

    private VertxPlatformHttpRouter router() {
        VertxPlatformHttpRouter router = VertxPlatformHttpRouter.lookup(getCamelContext(),
                VertxPlatformHttpRouter.getRouterNameFromPort(configuration.getBindPort()));
        return router != null ? router : VertxPlatformHttpRouter.lookup(getCamelContext());
    }

    /** The setting, but never more than half the process's file descriptors: the broker and clients need the rest. */
    private static int connectionCap(int setting) {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean os) {
            long half = os.getMaxFileDescriptorCount() / 2;
            if (half > 0 && setting > half) {
                LOG.warn("caravan.http.max-connections={} lowered to {}: the process may open {} files", setting,
                        half, os.getMaxFileDescriptorCount());
                return (int) half;
            }
        }
        return setting;
    }

    @Override
    protected void startServer() throws Exception {
        if (!"/".equals(configuration.getPath())) {
            throw new IllegalStateException("camel.server.path must be / for Caravan's HTTP server");
        }
        HttpServerOptions options = new HttpServerOptions()
                // HTTP/2 prior-knowledge detection waits for a connection's first bytes before it is handed over:
                // a connection that sends none would never be seen, counted or timed out
                .setHttp2ClearTextEnabled(false);
        server = getVertx().createHttpServer(options)
                .connectionHandler(gate)
                .requestHandler(router());
        // a port already taken fails the start instead of being logged
        server.listen(configuration.getBindPort(), configuration.getBindHost())
                .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        long every = Math.max(100, Math.min(1000, Math.min(edge.headTimeout().toMillis(), edge.idleTimeout().toMillis()) / 4));
        sweeper = getVertx().setPeriodic(every, t -> gate.sweep());
        LOG.info("Vert.x HttpServer started on {}:{} (at most {} connections)", configuration.getBindHost(),
                server.actualPort(), gate.max());
        // the routes register their paths later: list them once every route has started
        getCamelContext().addStartupListener(new ExtendedStartupListener() {
            @Override
            public void onCamelContextStarted(CamelContext context, boolean alreadyStarted) {
                // not yet: the routes start after this
            }

            @Override
            public void onCamelContextFullyStarted(CamelContext context, boolean alreadyStarted) {
                LOG.info(endpointSummary());
            }
        });
    }

    /**
     * One line naming the address the server is bound to and each path served there (Camel's own summary says
     * 0.0.0.0 whatever the bind address).
     */
    String endpointSummary() {
        PlatformHttpComponent component = getCamelContext().getComponent("platform-http", PlatformHttpComponent.class);
        String base = "http://" + configuration.getBindHost() + ":" + (server == null ? getPort() : server.actualPort());
        String paths = component == null ? "" : component.getHttpEndpoints().stream()
                .sorted(java.util.Comparator.comparing(HttpEndpointModel::getUri))
                .map(e -> e.getUri() + (e.getVerbs() == null ? "" : " (" + e.getVerbs() + ")"))
                .collect(java.util.stream.Collectors.joining(", "));
        return "HTTP endpoints on " + base + ("0.0.0.0".equals(configuration.getBindHost()) ? " (every interface)" : "")
                + ": " + paths;
    }

    /** Closes the server, then Vert.x (its event loops and workers serve nothing else in Caravan). */
    @Override
    protected void doStop() throws Exception {
        if (server == null) {
            return;
        }
        io.vertx.core.Vertx vertx = getVertx();
        vertx.cancelTimer(sweeper);
        try {
            // as platform-http's own server does: a restarted context makes the component anew
            getCamelContext().removeComponent("platform-http");
            server.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } finally {
            server = null;
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    /** The server listening (platform-http's engine finds the port through it). */
    @Override
    public HttpServer getServer() {
        return server;
    }

    @Override
    public int getPort() {
        return server != null ? server.actualPort() : super.getPort();
    }

    private void meters() {
        MeterRegistry registry = CamelContextHelper.findSingleByType(getCamelContext(), MeterRegistry.class);
        if (registry == null) {
            return;
        }
        Gauge.builder("caravan.http.connections.open", gate, ConnectionGate::openConnections)
                .description("HTTP connections open").register(registry);
        FunctionCounter.builder("caravan.http.connections.closed", gate, ConnectionGate::refused).tag("reason", "refused")
                .description("HTTP connections closed by Caravan's edge").register(registry);
        FunctionCounter.builder("caravan.http.connections.closed", gate, ConnectionGate::evicted).tag("reason", "evicted")
                .register(registry);
        FunctionCounter.builder("caravan.http.connections.closed", gate, ConnectionGate::timedOut)
                .tag("reason", "timed_out").register(registry);
        Gauge.builder("caravan.http.body.bytes.in.flight", bodies, BoundedBodies::inFlightBytes)
                .description("request body bytes held by requests in progress").register(registry);
        FunctionCounter.builder("caravan.http.bodies.refused", bodies, BoundedBodies::refusedTooLarge)
                .tag("reason", "too_large").description("request bodies refused").register(registry);
        FunctionCounter.builder("caravan.http.bodies.refused", bodies, BoundedBodies::refusedBusy)
                .tag("reason", "busy").register(registry);
        Gauge.builder("caravan.http.v1.waiting", admission, V1Admission::waiting)
                .description("/v1 requests waiting for a worker").register(registry);
    }

    /** Makes Camel Main's HTTP server a {@link HttpEdgeServer}; the management server stays Camel's. */
    public static final class Factory implements MainHttpServerFactory {

        private final Edge edge;
        private final TenantAuth tenants;

        public Factory(Edge edge) {
            this(edge, null);
        }

        /** With tenants: {@code tenants} identifies every /v1 caller (it also takes over the api-keys check). */
        public Factory(Edge edge, TenantAuth tenants) {
            this.edge = edge;
            this.tenants = tenants;
        }

        @Override
        public Service newHttpServer(CamelContext camelContext, HttpServerConfigurationProperties properties) {
            VertxPlatformHttpServerConfiguration configuration = new VertxPlatformHttpServerConfiguration();
            configuration.setBindHost(properties.getHost());
            configuration.setBindPort(properties.getPort());
            configuration.setPath(properties.getPath());
            configuration.setMaxBodySize(properties.getMaxBodySize());
            configuration.setServerType(VertxPlatformHttpRouter.SERVER_TYPE_SERVER);
            HttpEdgeServer server = new HttpEdgeServer(configuration, edge, tenants);
            server.setCamelContext(camelContext);
            return server;
        }

        @Override
        public Service newHttpManagementServer(CamelContext camelContext,
                HttpManagementServerConfigurationProperties properties) {
            return new DefaultMainHttpServerFactory().newHttpManagementServer(camelContext, properties);
        }
    }
}
