package io.caravan.util;

import java.time.Duration;
import java.util.concurrent.LinkedTransferQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A pool that hands a task to an idle thread when there is one, starts a thread only when there is none (up to
 * its maximum), queues beyond that, and lets idle threads end. A fixed {@link ThreadPoolExecutor} starts a new
 * thread for every task until it holds its maximum, so a pool sized for 256 slow calls would keep 256 threads
 * (and their stacks) for 16 quick ones.
 */
public final class ElasticThreadPool extends ThreadPoolExecutor {

    public ElasticThreadPool(int maxThreads, Duration keepAlive, ThreadFactory threads) {
        super(0, maxThreads, keepAlive.toMillis(), TimeUnit.MILLISECONDS, new HandOff(), threads, ElasticThreadPool::queue);
    }

    /** Every thread is busy and the pool is full: the task waits for the first thread to finish. */
    private static void queue(Runnable task, ThreadPoolExecutor pool) {
        if (pool.isShutdown()) {
            throw new RejectedExecutionException("the pool is shut down");
        }
        ((HandOff) pool.getQueue()).enqueue(task);
    }

    /** Accepts a task only into the hands of a waiting thread, so the pool grows instead of queueing. */
    private static final class HandOff extends LinkedTransferQueue<Runnable> {
        private static final long serialVersionUID = 1L;

        @Override
        public boolean offer(Runnable task) {
            return tryTransfer(task);
        }

        void enqueue(Runnable task) {
            super.offer(task);
        }
    }
}
