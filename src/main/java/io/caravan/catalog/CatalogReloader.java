package io.caravan.catalog;

import io.caravan.dispatch.DeploymentRoutes;
import io.caravan.resilience.KeyPool;
import io.caravan.util.Redaction;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.camel.CamelContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live catalog: reloads {@code catalog.yaml} when its content changes on disk (checked every
 * {@code caravan.catalog.watch-interval}) or on {@code POST /admin/reload}. A new catalog is validated first; an
 * invalid one is rejected with its one-line error and the old one keeps serving. A valid one is swapped into the
 * {@link CatalogHolder} for new tasks; tasks in flight keep the catalog they started with. Routes are added for
 * new deployments; routes, breakers and key states of the others stay (they are keyed by deployment id and
 * provider name), so nothing in flight is dropped or sent twice.
 */
public final class CatalogReloader implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CatalogReloader.class);

    /** What one reload did. */
    public record Outcome(boolean reloaded, String message) {}

    private final Path file;
    private final Map<String, String> env;
    private final CatalogHolder catalogs;
    private final KeyPool keys;
    private final DeploymentRoutes routes;
    private final Supplier<CamelContext> camel;
    private final AtomicLong reloads = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private volatile String lastError;
    private byte[] lastDigest;
    private ScheduledExecutorService watcher;

    public CatalogReloader(Path file, Map<String, String> env, CatalogHolder catalogs, KeyPool keys,
            DeploymentRoutes routes, Supplier<CamelContext> camel) {
        this.file = file;
        this.env = env;
        this.catalogs = catalogs;
        this.keys = keys;
        this.routes = routes;
        this.camel = camel;
        this.lastDigest = digest();
    }

    /**
     * Polls the file's content every {@code interval}; a zero interval watches nothing. The watch runs on a thread
     * of Camel's executor service manager, so it stops with the context.
     */
    public synchronized void watch(Duration interval) {
        if (interval.isZero() || interval.isNegative() || watcher != null) {
            return;
        }
        watcher = camel.get().getExecutorServiceManager().newSingleThreadScheduledExecutor(this,
                "caravan-catalog-watch");
        watcher.scheduleWithFixedDelay(this::reloadIfChanged, interval.toMillis(), interval.toMillis(),
                TimeUnit.MILLISECONDS);
        LOG.info("watching catalog file={} every {} ms", file, interval.toMillis());
    }

    /** Reloads when the file's content differs from the last one seen. */
    public void reloadIfChanged() {
        try {
            byte[] now = digest();
            synchronized (this) {
                if (now == null || Arrays.equals(now, lastDigest)) {
                    return;
                }
            }
            reload();
        } catch (RuntimeException e) {
            LOG.warn("catalog watch failed: {}", Redaction.redact(e.toString()));
        }
    }

    /** Loads, validates and swaps in the catalog file now. */
    public synchronized Outcome reload() {
        lastDigest = digest();
        try {
            return swapIn(CatalogLoader.load(file, env));
        } catch (RuntimeException e) {
            // a CatalogException's message is already redacted; anything else's is redacted here
            String message = e instanceof CatalogException ? e.getMessage()
                    : Redaction.redact("catalog reload failed: " + e);
            rejected.incrementAndGet();
            lastError = message;
            LOG.error("catalog reload rejected, the previous catalog keeps serving: {}", message);
            return new Outcome(false, message);
        }
    }

    private Outcome swapIn(Catalog next) {
        Catalog previous = catalogs.current();
        // providers dropped by this reload keep their keys until the next one, for tasks of the old catalog
        Map<String, io.caravan.catalog.ProviderSpec> keyed = new java.util.LinkedHashMap<>(previous.providers());
        keyed.keySet().removeAll(next.providers().keySet());
        keyed.putAll(next.providers());
        keys.load(keyed);
        int added = routes.addMissing(camel.get(), next);
        catalogs.swap(next);
        long n = reloads.incrementAndGet();
        lastError = null;
        String message = "catalog reloaded from " + file + ": " + next.providers().size() + " providers, "
                + next.groups().size() + " groups, " + next.deployments().size() + " deployments ("
                + added + " new, " + removed(previous, next) + " removed), reload #" + n;
        LOG.info(message);
        return new Outcome(true, message);
    }

    private static long removed(Catalog previous, Catalog next) {
        var ids = next.deployments().stream().map(d -> d.id()).collect(java.util.stream.Collectors.toSet());
        return previous.deployments().stream().filter(d -> !ids.contains(d.id())).count();
    }

    /** Catalogs swapped in since start. */
    public long reloads() {
        return reloads.get();
    }

    /** New catalogs rejected as invalid since start. */
    public long rejected() {
        return rejected.get();
    }

    /** The one-line error of the last rejected reload, or null after a good one. */
    public String lastError() {
        return lastError;
    }

    private byte[] digest() {
        try {
            return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
        } catch (IOException e) {
            return null; // a file being replaced; the next check sees it
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void close() {
        if (watcher != null) {
            watcher.shutdownNow();
            watcher = null;
        }
    }
}
