package io.caravan.intake;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class VertxWorkerPoolTest {

    /** platform-http runs every request on a Vert.x worker: sequential requests must not each start a thread. */
    @Test
    void vertxWorkersAreStartedOnlyWhenAllAreBusy() throws Exception {
        Vertx vertx = Vertx.vertx(new VertxOptions().setWorkerPoolSize(256));
        try {
            Set<Thread> used = ConcurrentHashMap.newKeySet();
            for (int i = 0; i < 300; i++) {
                vertx.executeBlocking(() -> used.add(Thread.currentThread()), false)
                        .toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
            }
            // Vert.x's own fixed pool would have started 256 threads for 300 requests one after another
            assertTrue(used.size() <= 8, "worker threads used: " + used.size());
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        }
    }
}
