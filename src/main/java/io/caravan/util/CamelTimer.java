package io.caravan.util;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.apache.camel.CamelContext;

/**
 * One timer thread of Camel's executor service manager, made on first use (most routers never need it) and stopped
 * with the context; a cancelled timer is removed at once rather than at its time.
 */
public final class CamelTimer {

    private final Object owner;
    private final String name;
    private volatile ScheduledExecutorService timer;

    public CamelTimer(Object owner, String name) {
        this.owner = owner;
        this.name = name;
    }

    public ScheduledExecutorService of(CamelContext camel) {
        ScheduledExecutorService t = timer;
        if (t == null) {
            synchronized (this) {
                t = timer;
                if (t == null) {
                    t = camel.getExecutorServiceManager().newSingleThreadScheduledExecutor(owner, name);
                    if (t instanceof ScheduledThreadPoolExecutor pool) {
                        pool.setRemoveOnCancelPolicy(true);
                    }
                    timer = t;
                }
            }
        }
        return t;
    }
}
