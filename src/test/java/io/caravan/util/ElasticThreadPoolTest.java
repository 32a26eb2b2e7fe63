package io.caravan.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ElasticThreadPoolTest {

    @Test
    void tasksOneAfterAnotherReuseOneThread() throws Exception {
        ElasticThreadPool pool = new ElasticThreadPool(64, Duration.ofSeconds(60), Executors.defaultThreadFactory());
        try {
            Set<Thread> used = ConcurrentHashMap.newKeySet();
            for (int i = 0; i < 200; i++) {
                pool.submit(() -> used.add(Thread.currentThread())).get(5, TimeUnit.SECONDS);
            }
            // a fixed pool of 64 would have started 64 threads for these 200 tasks
            // a thread may still be on its way back to waiting when the next task comes, hence a few, not one
            assertTrue(used.size() <= 8, "threads used: " + used.size());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void beyondItsMaximumTasksWaitForAThreadInsteadOfBeingRefused() throws Exception {
        ElasticThreadPool pool = new ElasticThreadPool(4, Duration.ofSeconds(60), Executors.defaultThreadFactory());
        try {
            CountDownLatch release = new CountDownLatch(1);
            Set<Thread> used = ConcurrentHashMap.newKeySet();
            Future<?>[] tasks = new Future<?>[20];
            for (int i = 0; i < tasks.length; i++) {
                tasks[i] = pool.submit(() -> {
                    used.add(Thread.currentThread());
                    release.await();
                    return null;
                });
            }
            assertEquals(4, pool.getPoolSize());
            release.countDown();
            for (Future<?> task : tasks) {
                task.get(5, TimeUnit.SECONDS);
            }
            assertEquals(4, used.size());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void idleThreadsEnd() throws Exception {
        ElasticThreadPool pool = new ElasticThreadPool(8, Duration.ofMillis(50), Executors.defaultThreadFactory());
        try {
            CountDownLatch release = new CountDownLatch(1);
            for (int i = 0; i < 8; i++) {
                pool.execute(() -> {
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            assertEquals(8, pool.getPoolSize());
            release.countDown();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> pool.getPoolSize() == 0);
        } finally {
            pool.shutdownNow();
        }
    }
}
