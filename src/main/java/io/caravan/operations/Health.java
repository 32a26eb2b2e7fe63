package io.caravan.operations;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.accounting.SpendLedger;
import io.caravan.catalog.CatalogHolder;
import io.caravan.util.Json;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.camel.CamelContext;
import org.apache.camel.Route;
import org.apache.camel.ServiceStatus;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * Liveness and readiness. Ready means: a catalog is loaded, the Camel context and every route are started, Kafka
 * answers a describe-cluster within two seconds (the answer is kept for five), and the spend ledger has been
 * rebuilt from the usage topic and its reader is running (or restarting within its grace).
 */
public final class Health implements AutoCloseable {

    private static final long KAFKA_CACHE_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final CatalogHolder catalogs;
    private final SpendLedger ledger;
    private final String bootstrapServers;
    private Admin admin;
    private long kafkaCheckedAt;
    private boolean kafkaUp;
    private String kafkaProblem;
    // the Kafka intake's progress watchdog: a description of the stall, or null while tasks move
    private volatile Supplier<String> intakeStall = () -> null;

    public Health(CatalogHolder catalogs, SpendLedger ledger, String bootstrapServers) {
        this.catalogs = catalogs;
        this.ledger = ledger;
        this.bootstrapServers = bootstrapServers;
    }

    /**
     * Watches the Kafka intake's progress: while {@code stall} describes a stall (tasks waiting and none finished
     * or committed for the configured time), readiness and liveness are DOWN, so an orchestrator restarts the
     * instance and the group hands its uncommitted tasks to another.
     */
    public void watchIntake(Supplier<String> stall) {
        this.intakeStall = stall;
    }

    /** Liveness: DOWN only when the Kafka intake is stalled (a restart is what helps then). */
    public ObjectNode liveness() {
        String stall = intakeStall.get();
        ObjectNode root = Json.object();
        root.put("status", stall == null ? "UP" : "DOWN");
        if (stall != null) {
            root.putObject("checks").put("kafka_intake", "DOWN: " + stall);
        }
        return root;
    }

    /** The checks as JSON; {@code status} is UP only when all pass. */
    public ObjectNode readiness(CamelContext camel) {
        ObjectNode checks = Json.object();
        boolean catalog = catalogs.current() != null;
        checks.put("catalog", catalog ? "UP" : "DOWN");
        String routes = routesProblem(camel);
        checks.put("routes", routes == null ? "UP" : "DOWN: " + routes);
        boolean kafka = kafkaReachable();
        checks.put("kafka", kafka ? "UP" : "DOWN: " + kafkaProblem);
        String ledgerProblem = ledger.problem(); // rebuilding, or its reader down past the restart grace
        checks.put("spend_ledger", ledgerProblem == null ? "UP" : "DOWN: " + ledgerProblem);
        boolean up = catalog && routes == null && kafka && ledgerProblem == null;
        String stall = intakeStall.get();
        checks.put("kafka_intake", stall == null ? "UP" : "DOWN: " + stall);
        up &= stall == null;
        ObjectNode root = Json.object();
        root.put("status", up ? "UP" : "DOWN");
        root.set("checks", checks);
        return root;
    }

    private static String routesProblem(CamelContext camel) {
        if (camel == null || !camel.isStarted()) {
            return "camel is not started";
        }
        for (Route route : camel.getRoutes()) {
            ServiceStatus status = camel.getRouteController().getRouteStatus(route.getRouteId());
            if (status == null || !status.isStarted()) {
                return "route " + route.getRouteId() + " is " + status;
            }
        }
        return null;
    }

    synchronized boolean kafkaReachable() {
        long now = System.nanoTime();
        if (kafkaCheckedAt != 0 && now - kafkaCheckedAt < KAFKA_CACHE_NANOS) {
            return kafkaUp;
        }
        try {
            if (admin == null) {
                Properties p = new Properties();
                p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
                p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "2000");
                p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "2000");
                p.put(AdminClientConfig.CLIENT_ID_CONFIG, "caravan-health");
                admin = Admin.create(p);
            }
            admin.describeCluster().clusterId().get(2, TimeUnit.SECONDS);
            kafkaUp = true;
            kafkaProblem = null;
        } catch (Exception e) {
            kafkaUp = false;
            kafkaProblem = "no answer from " + bootstrapServers + " within 2s";
        }
        kafkaCheckedAt = System.nanoTime();
        return kafkaUp;
    }

    @Override
    public synchronized void close() {
        if (admin != null) {
            admin.close(java.time.Duration.ofSeconds(2));
            admin = null;
        }
    }
}
