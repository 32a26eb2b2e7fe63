package io.caravan;

import io.caravan.accounting.TenantAdmission;
import io.caravan.operations.Operations;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogHolder;
import io.caravan.dispatch.AttemptRecorder;
import io.caravan.dispatch.CallCancellation;
import io.caravan.dispatch.DeploymentRoutes;
import io.caravan.dispatch.FairShare;
import io.caravan.dispatch.FallbackPlanner;
import io.caravan.dispatch.ProviderCalls;
import io.caravan.dispatch.RetryPolicy;
import io.caravan.dispatch.StreamCalls;
import io.caravan.dispatch.UpstreamEndpoints;
import io.caravan.intake.ChatCompletionsIntake;
import io.caravan.intake.ChatStreamWriter;
import io.caravan.intake.ErrorsAsExceptions;
import io.caravan.intake.FatalErrors;
import io.caravan.intake.HttpEdgeServer;
import io.caravan.intake.HttpIntake;
import io.caravan.intake.KafkaInFlight;
import io.caravan.intake.KafkaIntake;
import io.caravan.intake.TaskIntake;
import io.caravan.intake.TenantAuth;
import io.caravan.intake.TenantIdentity;
import io.caravan.outlet.PublishRetry;
import io.caravan.outlet.UsageRecords;
import io.caravan.provider.ResponseLimits;
import io.caravan.provider.simulated.SimulatedUpstream;
import io.caravan.resilience.Breakers;
import io.caravan.resilience.FleetState;
import io.caravan.resilience.GroupMembers;
import io.caravan.resilience.KeyPool;
import io.caravan.resilience.RateLimits;
import io.caravan.resilience.TenantRateLimits;
import io.caravan.dispatch.strategy.DeploymentStats;
import io.caravan.dispatch.strategy.GroupStrategies;
import io.caravan.routing.TierRouter;
import io.caravan.catalog.AdminReload;
import io.caravan.catalog.CatalogReloader;
import io.caravan.shaping.Escalation;
import io.caravan.shaping.ResponseCache;
import io.caravan.task.TaskContext;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Predicate;
import org.apache.camel.Route;
import org.apache.camel.component.kafka.KafkaConsumer;
import org.apache.camel.spi.ExecutorServiceManager;
import org.apache.camel.support.ExpressionAdapter;
import org.apache.camel.support.LifecycleStrategySupport;
import org.apache.camel.support.service.ServiceSupport;
import org.apache.camel.main.BaseMainSupport;
import org.apache.camel.main.Main;
import org.apache.camel.main.MainListenerSupport;

/**
 * Caravan's route set on Camel Main: binds the beans the YAML routes call, loads {@code routes/*.yaml},
 * and generates one route per catalog deployment from the deployment template.
 */
public final class CaravanApp implements AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CaravanApp.class);

    private final Main main = new Main();
    private final Settings settings;
    private final CatalogHolder catalogs;
    private final KeyPool keys = new KeyPool();
    private final Breakers breakers = new Breakers();
    private final Operations operations;
    private final DeploymentStats stats = new DeploymentStats();
    private final RateLimits limits;
    private final FleetState fleet;
    private final String instanceId;
    private final GroupMembers members;
    private final ResponseCache responseCache = new ResponseCache();
    private final CatalogReloader reloader;
    private final KafkaInFlight inFlight;
    private final FatalErrors fatalErrors = new FatalErrors();
    private final PublishRetry publishRetry = new PublishRetry();
    private final java.time.Duration grace;
    private final io.caravan.batch.BatchTier batches;
    /** What {@link #run(Callable)} waits for before anything talks to Kafka; tests' brokers are up already. */
    private volatile java.util.concurrent.Callable<?> kafkaUp = () -> null;
    private volatile long runCalled;
    private final FairShare fairShare;
    private volatile boolean drained;

    public CaravanApp(Settings settings, Catalog catalog, String bootstrapServers) {
        this.settings = settings;
        this.catalogs = new CatalogHolder(catalog);
        // rpm/tpm are per minute; a shorter window is for tests only
        this.limits = new RateLimits(settings.get(Setting.LIMITS_WINDOW));
        keys.load(catalog.providers());
        this.instanceId = instanceId(settings);
        java.time.Duration keyCooldown = settings.get(Setting.KEY_COOLDOWN);
        this.fleet = new FleetState(instanceId, keys, limits, () -> catalogs.current().providers(), keyCooldown,
                settings.get(Setting.FLEET_MAX_LAG));
        int maxTaskBytes = settings.get(Setting.MAX_TASK_BYTES);
        TaskIntake taskIntake = new TaskIntake(catalogs, maxTaskBytes,
                settings.get(Setting.TASK_DEFAULT_TIMEOUT_MS), metadataLimits(settings));

        main.bind("taskIntake", taskIntake);
        KafkaIntake kafkaIntake = new KafkaIntake(taskIntake, fatalErrors);
        main.bind("kafkaIntake", kafkaIntake);
        int maxInFlight = settings.get(Setting.MAX_IN_FLIGHT);
        this.inFlight = new KafkaInFlight(maxInFlight, fatalErrors);
        main.bind("publishRetry", publishRetry);
        this.grace = settings.get(Setting.SHUTDOWN_GRACE);
        main.bind("kafkaInFlight", inFlight);
        main.bind("inFlightCommits", new KafkaInFlight.NoCommits());
        main.bind("httpIntake", new HttpIntake(taskIntake, maxTaskBytes, fatalErrors));
        AttemptRecorder attempts = new AttemptRecorder(keys, breakers, keyCooldown, stats, limits);
        ChatCompletionsIntake chatCompletions = new ChatCompletionsIntake(taskIntake, catalogs, maxTaskBytes,
                new ChatStreamWriter(attempts));
        main.bind("chatCompletions", chatCompletions);
        main.bind("tierRouter", new TierRouter());
        // tenants waiting for the same provider capacity take turns by weight
        this.fairShare = new FairShare(keys, limits, maxInFlight);
        main.bind("fairShare", fairShare);
        FairShare fair = settings.get(Setting.TENANTS_FAIR_SHARE) ? fairShare : null;
        FallbackPlanner fallbackPlanner = new FallbackPlanner(keys, breakers, limits, new GroupStrategies(stats))
                .sharedFairly(fair);
        main.bind("fallbackPlanner", fallbackPlanner);
        UpstreamEndpoints upstreams = new UpstreamEndpoints();
        ResponseLimits responseLimits = ResponseLimits.from(settings);
        main.bind("providerCalls", new ProviderCalls(keys, limits, attempts, upstreams, responseLimits, fleet)
                .sharedFairly(fair));
        main.bind("streamCalls", new StreamCalls(upstreams, responseLimits, fleet));
        main.bind("callCancellation", new CallCancellation());
        main.bind("retryPolicy", new RetryPolicy(keys));
        main.bind("attemptRecorder", attempts);
        UsageRecords usageRecords = new UsageRecords(bootstrapServers != null, instanceId);
        main.bind("usageRecords", usageRecords);
        main.bind("responseCache", responseCache);
        Escalation escalation = new Escalation();
        main.bind("escalation", escalation);
        // the routes' per-task conditions, named for the ref language: a bean-method condition would bind its
        // arguments by reflection and copy the exchange on every evaluation
        main.bind("cacheMissed", (Predicate) e -> responseCache.miss(TaskContext.of(e)));
        main.bind("usageToSend", (Predicate) e -> usageRecords.any(TaskContext.of(e)));
        main.bind("answerStreamed", (Predicate) e -> chatCompletions.streamed(TaskContext.of(e)));
        main.bind("recordIsTask", (Predicate) kafkaIntake::isTask);
        main.bind("stoppedWaiting", (Predicate) e -> e.getProperty(FairShare.STOPPED_WAITING) != null);
        main.bind("recordHasResult", (Predicate) kafkaIntake::hasResult);
        main.bind("recordFailed", (Predicate) kafkaIntake::failed);
        main.bind("escalationDue", (Predicate) e -> escalation.due(TaskContext.of(e)));
        main.bind("streamWanted", (Predicate) StreamCalls::wanted);
        main.bind("hasExplicitTier", (Predicate) TierRouter::hasExplicitTier);
        main.bind("asksForTierAlias", (Predicate) TierRouter::asksForTierAlias);
        main.bind("asksForGroup", (Predicate) TierRouter::asksForGroup);
        main.bind("matchesKeyword", (Predicate) TierRouter::matchesKeyword);
        main.bind("nextDeployment", new ExpressionAdapter() {
            @Override
            public Object evaluate(Exchange exchange) {
                return fallbackPlanner.next(TaskContext.of(exchange));
            }
        });
        main.bind(SimulatedUpstream.BEAN, new SimulatedUpstream());
        operations = new Operations(settings, catalogs, breakers, bootstrapServers);
        // the fleet learns its peers' calls from the usage topic the ledger already reads
        boolean share = settings.get(Setting.FLEET_SHARE);
        // tenants (catalog tenants:): identity at the intakes, budgets and rates before each call
        TenantAdmission tenantAdmission = tenants(settings, taskIntake, share);
        if (share) {
            operations.ledger().follow(e -> {
                fleet.apply(e);
                tenantAdmission.apply(e);
            });
            fleet.lagFrom(operations.ledger()::lagMillis).deploymentsFrom(breakers);
        } else {
            operations.ledger().follow(tenantAdmission::apply);
        }
        this.members = bootstrapServers == null || !share ? null : new GroupMembers(bootstrapServers,
                settings.get(Setting.CONSUMER_GROUP), java.time.Duration.ofSeconds(2));
        if (members != null) {
            fleet.membersFrom(members::count);
        }
        operations.board().showFleet(fleet::status);
        fleet.register(operations.metrics().registry());
        operations.bind(main);
        // the batch tier (routes/batch.yaml): deadline tasks wait for provider batches at the batch price
        this.batches = new io.caravan.batch.BatchTier(main, settings, catalogs, keys, inFlight, taskIntake,
                operations.metrics().registry(), bootstrapServers);
        operations.board().showBatches(batches::status);
        java.time.Duration stallTimeout = settings.get(Setting.KAFKA_STALL_TIMEOUT);
        operations.health().watchIntake(() -> inFlight.stall(stallTimeout));
        // platform-http runs each request's route on a Vert.x worker thread, held for the whole call (a stream
        // included): one worker per /v1 request let through and some for the operations endpoints, and no
        // blocked-thread warnings for long streams
        HttpEdgeServer.Edge edge = HttpEdgeServer.Edge.of(settings);
        main.bind("caravanVertxOptions", new io.vertx.core.VertxOptions()
                .setWorkerPoolSize(Math.max(20, edge.workerThreads()))
                .setMaxWorkerExecuteTime(15).setMaxWorkerExecuteTimeUnit(java.util.concurrent.TimeUnit.MINUTES));
        // the HTTP server with Caravan's edge: connection cap and timeouts, API keys, bounded bodies
        main.bind("caravanHttpServer", new HttpEdgeServer.Factory(edge, new TenantAuth(catalogs, edge.apiKeys())));

        // one poll never brings more than the in-flight limit, so the hand-over queue stays bounded
        Integer maxPollSet = settings.get(Setting.KAFKA_MAX_POLL_RECORDS);
        int maxPoll = maxPollSet != null ? maxPollSet : Math.min(500, maxInFlight);
        main.addOverrideProperty(Setting.KAFKA_MAX_POLL_RECORDS.name(), String.valueOf(maxPoll));
        main.addOverrideProperty("caravan.kafka.queue-size", String.valueOf(maxInFlight + maxPoll));
        // Camel's own shutdown (after the drain) gets the grace period again for what is left
        main.addOverrideProperty("camel.main.shutdown-timeout", String.valueOf(Math.max(5, grace.toSeconds() + 5)));
        // an empty setting means unset: it must not hide a value derived above (caravan.kafka.max-poll-records)
        settings.all().forEach((k, v) -> {
            if (!v.toString().isBlank()) {
                main.addOverrideProperty(k.toString(), v.toString());
            }
        });
        // without a broker (a batch run) no route that talks to Kafka starts; the endpoints still want an address
        main.addOverrideProperty("camel.component.kafka.brokers",
                bootstrapServers != null ? bootstrapServers : "127.0.0.1:9");
        main.addOverrideProperty("camel.server.host", settings.get(Setting.HTTP_HOST));
        main.addOverrideProperty("camel.server.port", String.valueOf(settings.get(Setting.HTTP_PORT)));
        // bodies are read by the edge (BoundedBodies); platform-http's own limit only backs it up
        main.addOverrideProperty("camel.server.max-body-size", String.valueOf(maxTaskBytes));
        for (String component : new String[] {"http", "https"}) {
            // retries are Caravan's (RetryPolicy, one attempt per call): the client must not re-send 429/503 itself
            main.addOverrideProperty("camel.component." + component + ".automatic-retries-disabled", "true");
            // provider APIs answer where they are asked, without cookies or per-connection auth state: the
            // client's steps for those would only run for nothing on every call
            main.addOverrideProperty("camel.component." + component + ".cookie-management-disabled", "true");
            main.addOverrideProperty("camel.component." + component + ".redirect-handling-disabled", "true");
            main.addOverrideProperty("camel.component." + component + ".auth-caching-disabled", "true");
            main.addOverrideProperty("camel.component." + component + ".connection-state-disabled", "true");
            // a caller who goes away aborts the provider call in flight
            main.addOverrideProperty("camel.component." + component + ".http-client-configurer", "#callCancellation");
            main.addOverrideProperty("camel.component." + component + ".http-activity-listener", "#callCancellation");
        }
        DeploymentRoutes deploymentRoutes = new DeploymentRoutes(breakers, upstreams);
        main.addMainListener(new MainListenerSupport() {
            @Override
            public void afterConfigure(BaseMainSupport support) {
                // an Error in any step becomes the exchange's exception: no task ends unseen
                support.getCamelContext().getCamelContextExtension()
                        .addInterceptStrategy(new ErrorsAsExceptions(fatalErrors));
                deploymentRoutes.addAll(support.getCamelContext(), catalogs.current());
                awaitKafka();
                startReaders(support.getCamelContext());
                support.getCamelContext().addLifecycleStrategy(new LifecycleStrategySupport() {
                    @Override
                    public void onRoutesAdd(java.util.Collection<Route> routes) {
                        routes.stream().filter(r -> "intake-kafka".equals(r.getRouteId()))
                                .forEach(r -> ((KafkaConsumer) r.getConsumer()).setConsumerListener(inFlight));
                    }
                });
            }

            @Override
            public void afterStart(BaseMainSupport support) {
                watchCatalog(); // on a thread of the context's executor service manager: it stops with the context
            }

            @Override
            public void beforeStop(BaseMainSupport support) {
                drain();
            }
        });
        // the live catalog: the file on disk is watched, and POST /admin/reload reloads it when admin auth is set
        String catalogFile = settings.get(Setting.CATALOG);
        this.reloader = catalogFile == null ? null : new CatalogReloader(java.nio.file.Path.of(catalogFile),
                System.getenv(), catalogs, keys, deploymentRoutes, main::getCamelContext);
        String adminKey = settings.get(Setting.ADMIN_API_KEY);
        if (reloader != null && adminKey != null && !adminKey.isBlank()) {
            main.configure().addRoutesBuilder(new AdminReload(reloader, adminKey));
        }
    }

    /** The tenants' parts: who a task is of (intakes), and what it may spend and send (before each call). */
    private TenantAdmission tenants(Settings settings, TaskIntake taskIntake, boolean share) {
        taskIntake.identifiedBy(new TenantIdentity(settings.get(Setting.TENANTS_KAFKA_HEADER)));
        TenantRateLimits rates = new TenantRateLimits(limits.window(), share ? fleet : null);
        rates.tenants(catalogs.current().tenants());
        catalogs.onSwap(c -> rates.tenants(c.tenants()));
        TenantAdmission admission = new TenantAdmission(operations.ledger(), rates, instanceId, fleet::liveInstances,
                settings.get(Setting.TENANTS_DEFAULT_OUTPUT_TOKENS), settings.get(Setting.BUDGETS_REBUILD_WAIT));
        main.bind("tenantAdmission", admission);
        main.bind("tenantAdmitted", (Predicate) TenantAdmission::admitted);
        main.bind("taskOpen", (Predicate) e -> {
            TaskContext ctx = TaskContext.of(e);
            return ctx != null && !ctx.done();
        });
        operations.board().showTenants(() -> admission.status(catalogs.current()));
        operations.metrics().labelTenants(catalogs.current().hasTenants());
        return admission;
    }

    /**
     * This instance's name in its usage events ({@code caravan.instance-id}); by default the host, the process and
     * a random part, so that several Caravans in one JVM are told apart too.
     */
    static String instanceId(Settings settings) {
        String set = settings.get(Setting.INSTANCE_ID);
        if (set != null) {
            return set;
        }
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            host = "caravan";
        }
        return host + "-" + ProcessHandle.current().pid() + "-"
                + java.util.UUID.randomUUID().toString().substring(0, 4);
    }

    static io.caravan.task.TaskParser.MetadataLimits metadataLimits(Settings settings) {
        return new io.caravan.task.TaskParser.MetadataLimits(settings.get(Setting.TASK_MAX_METADATA_BYTES),
                settings.get(Setting.TASK_MAX_METADATA_DEPTH), settings.get(Setting.TENANT_MAX_CHARS));
    }

    /** The routes are loaded; the readers below are the first to talk to Kafka. */
    private void awaitKafka() {
        long loaded = System.nanoTime();
        try {
            kafkaUp.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        if (runCalled != 0) {
            // the start-up's timeline (docs/memory-and-startup.md): what the routes took, what Kafka kept them waiting
            LOG.info("routes loaded in {} ms, then waited {} ms for Kafka", (loaded - runCalled) / 1_000_000,
                    (System.nanoTime() - loaded) / 1_000_000);
        }
    }

    /**
     * The readers of the usage and batches topics and the fleet's member count, before the routes start: each on a
     * thread of Camel's executor service manager, and each a service of the context, so the context stops them
     * before it takes its threads back.
     */
    private void startReaders(CamelContext camel) {
        ExecutorServiceManager threads = camel.getExecutorServiceManager();
        withContext(camel, () -> operations.start(threads.newSingleThreadExecutor(operations, "caravan-spend-ledger")),
                operations.ledger());
        withContext(camel, () -> batches.start(threads.newSingleThreadExecutor(batches, "caravan-batch-book")),
                batches);
        if (members != null) {
            withContext(camel, () -> members.start(threads.newSingleThreadScheduledExecutor(members,
                    "caravan-fleet-members")), members);
        }
    }

    private static void withContext(CamelContext camel, Runnable start, AutoCloseable stop) {
        try {
            camel.addService(new ServiceSupport() {
                @Override
                protected void doStart() {
                    start.run();
                }

                @Override
                protected void doStop() throws Exception {
                    stop.close();
                }
            }, true, true);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Starts the routes and returns; {@link #close()} stops them. */
    public CaravanApp start() throws Exception {
        main.start();
        watchCatalog(); // run() starts it from the listener's afterStart, which only Main.run calls
        return this;
    }

    /** Runs until the JVM is asked to stop (Ctrl-C, SIGTERM). */
    public void run() throws Exception {
        run(() -> null);
    }

    /**
     * Runs until the JVM is asked to stop; {@code kafkaUp} is awaited once the routes are loaded and before anything
     * talks to Kafka, so that a broker starting meanwhile (the embedded one) adds no time of its own.
     */
    public void run(java.util.concurrent.Callable<?> kafkaUp) throws Exception {
        this.kafkaUp = kafkaUp;
        this.runCalled = System.nanoTime();
        try {
            main.run();
        } finally {
            operations.close();
            if (members != null) {
                members.close();
            }
        }
    }

    private void watchCatalog() {
        if (reloader != null) {
            reloader.watch(settings.get(Setting.CATALOG_WATCH_INTERVAL));
        }
    }

    public CamelContext camelContext() {
        return main.getCamelContext();
    }

    public CatalogHolder catalogs() {
        return catalogs;
    }

    public FleetState fleet() {
        return fleet;
    }

    public String instanceId() {
        return instanceId;
    }

    public KeyPool keys() {
        return keys;
    }

    public Breakers breakers() {
        return breakers;
    }

    public Operations operations() {
        return operations;
    }

    /** The live catalog's reloader (null when no catalog file is set); counts reloads and rejections. */
    public CatalogReloader reloader() {
        return reloader;
    }

    /** Catalogs swapped in without a restart since start. */
    public long catalogReloads() {
        return reloader == null ? 0 : reloader.reloads();
    }

    public ResponseCache responseCache() {
        return responseCache;
    }

    public Settings settings() {
        return settings;
    }

    public io.caravan.batch.BatchTier batches() {
        return batches;
    }

    public FairShare fairShare() {
        return fairShare;
    }

    public KafkaInFlight inFlight() {
        return inFlight;
    }

    /** What a JVM error does (halts the process); tests replace the halting action. */
    public FatalErrors fatalErrors() {
        return fatalErrors;
    }

    /** Stops taking Kafka records and waits (up to the grace period) for the tasks in flight to be committed. */
    public boolean drain() {
        if (drained) {
            return true;
        }
        drained = true;
        try {
            batches.flush(main.getCamelContext());
            return inFlight.drain(grace);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            // tasks still waiting for a provider's capacity end now, while the routes run (HTTP: 503; Kafka: left
            // uncommitted), instead of being woken into stopped routes
            fairShare.stop();
            // what is still unpublished stays uncommitted: the partition's next owner answers it
            publishRetry.giveUp();
        }
    }

    /** Drains, then stops. */
    @Override
    public void close() throws Exception {
        if (main.getCamelContext() != null && main.getCamelContext().isStarted()) {
            drain();
        }
        if (reloader != null) {
            reloader.close();
        }
        main.stop();
        fairShare.close();
        batches.close();
        operations.close();
        if (members != null) {
            members.close();
        }
        keys.forget();
    }
}
