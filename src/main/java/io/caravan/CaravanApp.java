package io.caravan;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogHolder;
import io.caravan.dispatch.AttemptFailures;
import io.caravan.dispatch.DeploymentRouteTemplate;
import io.caravan.dispatch.DeploymentRoutes;
import io.caravan.dispatch.FallbackPlanner;
import io.caravan.dispatch.ProviderCalls;
import io.caravan.dispatch.RetryPolicy;
import io.caravan.intake.HttpIntake;
import io.caravan.intake.KafkaInFlight;
import io.caravan.intake.KafkaIntake;
import io.caravan.intake.TaskIntake;
import io.caravan.outlet.UsageRecords;
import io.caravan.provider.simulated.SimulatedUpstream;
import io.caravan.resilience.Breakers;
import io.caravan.resilience.KeyPool;
import io.caravan.routing.TierRouter;
import io.caravan.util.Durations;
import org.apache.camel.CamelContext;
import org.apache.camel.Route;
import org.apache.camel.component.kafka.KafkaConsumer;
import org.apache.camel.support.LifecycleStrategySupport;
import org.apache.camel.main.BaseMainSupport;
import org.apache.camel.main.Main;
import org.apache.camel.main.MainListenerSupport;

/**
 * Caravan's route set on Camel Main: binds the beans the YAML routes call, loads {@code routes/*.yaml},
 * and generates one route per catalog deployment from the deployment template.
 */
public final class CaravanApp implements AutoCloseable {

    private final Main main = new Main();
    private final Settings settings;
    private final CatalogHolder catalogs;
    private final KeyPool keys = new KeyPool();
    private final Breakers breakers = new Breakers();
    private final KafkaInFlight inFlight;
    private final java.time.Duration grace;
    private volatile boolean drained;

    public CaravanApp(Settings settings, Catalog catalog, String bootstrapServers) {
        this.settings = settings;
        this.catalogs = new CatalogHolder(catalog);
        keys.load(catalog.providers());
        int maxTaskBytes = settings.getInt("caravan.max-task-bytes", 1_048_576);
        TaskIntake taskIntake = new TaskIntake(catalogs, maxTaskBytes,
                settings.getLong("caravan.task.default-timeout-ms", 60_000));

        main.bind("taskIntake", taskIntake);
        main.bind("kafkaIntake", new KafkaIntake(taskIntake));
        int maxInFlight = settings.getInt("caravan.max-in-flight", 256);
        this.inFlight = new KafkaInFlight(maxInFlight);
        this.grace = Durations.parse(settings.get("caravan.shutdown.grace", "30s"));
        main.bind("kafkaInFlight", inFlight);
        main.bind("inFlightCommits", new KafkaInFlight.NoCommits());
        main.bind("httpIntake", new HttpIntake(taskIntake, maxTaskBytes));
        main.bind("tierRouter", new TierRouter());
        main.bind("fallbackPlanner", new FallbackPlanner(keys));
        main.bind("providerCalls", new ProviderCalls(keys));
        main.bind("retryPolicy", new RetryPolicy(keys));
        main.bind("attemptFailures",
                new AttemptFailures(keys, Durations.parse(settings.get("caravan.key-cooldown", "10m"))));
        main.bind("usageRecords", new UsageRecords(bootstrapServers != null));
        main.bind(SimulatedUpstream.BEAN, new SimulatedUpstream());

        // one poll never brings more than the in-flight limit, so the hand-over queue stays bounded
        int maxPoll = settings.getInt("caravan.kafka.max-poll-records", Math.min(500, maxInFlight));
        main.addOverrideProperty("caravan.kafka.max-poll-records", String.valueOf(maxPoll));
        main.addOverrideProperty("caravan.kafka.queue-size", String.valueOf(maxInFlight + maxPoll));
        // Camel's own shutdown (after the drain) gets the grace period again for what is left
        main.addOverrideProperty("camel.main.shutdown-timeout", String.valueOf(Math.max(5, grace.toSeconds() + 5)));
        settings.all().forEach((k, v) -> main.addOverrideProperty(k.toString(), v.toString()));
        // without a broker (a batch run) no route that talks to Kafka starts; the endpoints still want an address
        main.addOverrideProperty("camel.component.kafka.brokers",
                bootstrapServers != null ? bootstrapServers : "127.0.0.1:9");
        main.addOverrideProperty("camel.server.host", settings.get("caravan.http.host", "127.0.0.1"));
        main.addOverrideProperty("camel.server.port", settings.get("caravan.http.port", "8080"));
        // bodies far over the task limit are cut off by the server itself; the rest get Caravan's 413
        main.addOverrideProperty("camel.server.max-body-size", String.valueOf(16L * maxTaskBytes));
        main.configure().addRoutesBuilder(new DeploymentRouteTemplate());
        main.addMainListener(new MainListenerSupport() {
            @Override
            public void afterConfigure(BaseMainSupport support) {
                new DeploymentRoutes(breakers).addAll(support.getCamelContext(), catalogs.current());
                support.getCamelContext().addLifecycleStrategy(new LifecycleStrategySupport() {
                    @Override
                    public void onRoutesAdd(java.util.Collection<Route> routes) {
                        routes.stream().filter(r -> "intake-kafka".equals(r.getRouteId()))
                                .forEach(r -> ((KafkaConsumer) r.getConsumer()).setConsumerListener(inFlight));
                    }
                });
            }

            @Override
            public void beforeStop(BaseMainSupport support) {
                drain();
            }
        });
    }

    /** Starts the routes and returns; {@link #close()} stops them. */
    public CaravanApp start() throws Exception {
        main.start();
        return this;
    }

    /** Runs until the JVM is asked to stop (Ctrl-C, SIGTERM). */
    public void run() throws Exception {
        main.run();
    }

    public CamelContext camelContext() {
        return main.getCamelContext();
    }

    public CatalogHolder catalogs() {
        return catalogs;
    }

    public Breakers breakers() {
        return breakers;
    }

    public Settings settings() {
        return settings;
    }

    public KafkaInFlight inFlight() {
        return inFlight;
    }

    /** Stops taking Kafka records and waits (up to the grace period) for the tasks in flight to be committed. */
    public boolean drain() {
        if (drained) {
            return true;
        }
        drained = true;
        try {
            return inFlight.drain(grace);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Drains, then stops. */
    @Override
    public void close() throws Exception {
        if (main.getCamelContext() != null && main.getCamelContext().isStarted()) {
            drain();
        }
        main.stop();
    }
}
