package io.caravan.intake;

import io.caravan.util.ElasticThreadPool;
import io.vertx.core.spi.ExecutorServiceFactory;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadFactory;

/**
 * Vert.x's worker pools (where platform-http runs each request's route) as {@link ElasticThreadPool}s: the pool
 * may hold one thread per request in flight (caravan.max-in-flight), but keeps only as many as are busy lately.
 * Found by Vert.x through META-INF/services/io.vertx.core.spi.VertxServiceProvider.
 */
public final class VertxWorkerPool implements ExecutorServiceFactory {

    @Override
    public ExecutorService createExecutor(ThreadFactory threads, Integer concurrency, Integer maxConcurrency) {
        return new ElasticThreadPool(maxConcurrency, Duration.ofSeconds(60), threads);
    }
}
