package io.caravan.batch;

import io.caravan.catalog.BatchSpec;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.task.TaskContext;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import org.apache.camel.Exchange;

/**
 * The choice of path, right after the tier router: a task whose deadline leaves at least the {@code min_slack} of
 * a batch-capable deployment of its plan (its group, then its fallbacks, in order) waits for a batch of the first
 * such deployment; every other task goes online as before. The routing reason says why either way. Tasks already
 * waiting are bounded ({@code caravan.batch.max-open-tasks}): past it new ones go online.
 */
public final class BatchPath {

    /** The deployment id whose batch a task waits for (exchange property). */
    public static final String DEPLOYMENT = "caravanBatchDeployment";
    /** Set on a task that must be answered online (a rescue, a failed batch row). */
    public static final String ONLINE_ONLY = "caravanOnlineOnly";

    private final long maxOpenTasks;
    private final LongSupplier waiting;
    private final boolean available;

    /**
     * @param available whether this Caravan has a broker to record batches on (a batch run without Kafka has none)
     * @param waiting   tasks waiting now: collecting and in open batches
     */
    public BatchPath(boolean available, long maxOpenTasks, LongSupplier waiting) {
        this.available = available;
        this.maxOpenTasks = maxOpenTasks;
        this.waiting = waiting;
    }

    public void choose(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        if (ctx == null || ctx.task().deadline() == null || exchange.getProperty(ONLINE_ONLY) != null
                || ctx.group() == null) {
            return;
        }
        if (ctx.source() != TaskContext.Source.KAFKA && ctx.source() != TaskContext.Source.HTTP) {
            return;
        }
        Catalog catalog = ctx.catalog();
        Instant deadline = ctx.task().deadline();
        Duration slack = Duration.between(Instant.now(), deadline);
        String why = null;
        for (DeploymentSpec d : candidates(catalog, ctx.group())) {
            BatchSpec.Provider batch = catalog.batches().enabledFor(d.provider());
            ProviderSpec provider = catalog.providerOf(d);
            if (batch == null || provider == null || !BatchAdapters.supports(provider.api())
                    || provider.apiKeys().isEmpty()) {
                continue;
            }
            if (slack.compareTo(batch.minSlack()) < 0) {
                why = "deadline " + deadline + " leaves " + format(slack) + ", under min_slack "
                        + io.caravan.util.Durations.format(batch.minSlack()) + " of " + d.id() + " -> online";
                break;
            }
            if (!available) {
                why = "no batches without Kafka -> online";
                break;
            }
            if (waiting.getAsLong() >= maxOpenTasks) {
                why = "deadline " + deadline + " leaves " + format(slack) + " but " + maxOpenTasks
                        + " tasks already wait for batches (caravan.batch.max-open-tasks) -> online";
                break;
            }
            exchange.setProperty(DEPLOYMENT, d.id());
            ctx.mode(TaskContext.MODE_BATCH);
            ctx.route(ctx.tier(), ctx.group(), ctx.routingReason() + "; deadline " + deadline + " leaves "
                    + format(slack) + " -> batch on " + d.id());
            return;
        }
        ctx.route(ctx.tier(), ctx.group(), ctx.routingReason() + "; " + (why != null ? why
                : "deadline " + deadline + ": no deployment of its plan can batch -> online"));
    }

    /** Whether the task goes the batch way. */
    public static boolean goesBatch(Exchange exchange) {
        TaskContext ctx = TaskContext.of(exchange);
        return ctx != null && TaskContext.MODE_BATCH.equals(ctx.mode()) && exchange.getProperty(DEPLOYMENT) != null;
    }

    /** The task's group's deployments, then those of its fallback groups. */
    static List<DeploymentSpec> candidates(Catalog catalog, String group) {
        List<DeploymentSpec> out = new ArrayList<>(catalog.group(group));
        for (String g : catalog.fallbackChain(group)) {
            out.addAll(catalog.group(g));
        }
        return out;
    }

    static String format(Duration d) {
        long minutes = Math.max(0, d.toMinutes());
        if (minutes >= 120) {
            return minutes / 60 + "h";
        }
        if (minutes >= 1) {
            return minutes + "m";
        }
        return Math.max(0, d.toSeconds()) + "s";
    }
}
