package io.caravan.intake;

import io.caravan.catalog.CatalogHolder;
import io.caravan.resilience.ErrorClass;
import io.caravan.task.InvalidTaskException;
import io.caravan.task.Task;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskError;
import io.caravan.task.TaskParser;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;

/** What every intake does with a task: parse and validate it, and open its {@link TaskContext}. */
public final class TaskIntake {

    private final CatalogHolder catalogs;
    private final TaskParser parser;
    private final long defaultTimeoutMs;
    private volatile TenantIdentity identity;

    public TaskIntake(CatalogHolder catalogs, int maxTaskBytes, long defaultTimeoutMs) {
        this(catalogs, maxTaskBytes, defaultTimeoutMs, TaskParser.MetadataLimits.DEFAULT);
    }

    public TaskIntake(CatalogHolder catalogs, int maxTaskBytes, long defaultTimeoutMs,
            TaskParser.MetadataLimits metadataLimits) {
        this.catalogs = catalogs;
        this.parser = new TaskParser(maxTaskBytes, metadataLimits,
                () -> catalogs.current().routing().paramsPassthrough());
        this.defaultTimeoutMs = defaultTimeoutMs;
    }

    /** Identifies each task's tenant when the catalog has tenants (see {@link TenantIdentity}). */
    public TaskIntake identifiedBy(TenantIdentity identity) {
        this.identity = identity;
        return this;
    }

    public TaskParser parser() {
        return parser;
    }

    /** Parses the bytes and puts the task's context on the exchange; throws {@link InvalidTaskException}. */
    public TaskContext open(Exchange exchange, byte[] bytes, String recordKey, TaskContext.Source source) {
        Task task = parser.parse(bytes, recordKey);
        return open(exchange, task, source);
    }

    public TaskContext open(Exchange exchange, Task task, TaskContext.Source source) {
        TaskContext ctx = new TaskContext(task, source, catalogs.current(), defaultTimeoutMs);
        exchange.setProperty(TaskContext.PROPERTY, ctx);
        TenantIdentity tenants = identity;
        if (tenants != null) {
            tenants.identify(exchange, ctx);
        }
        return ctx;
    }

    /** The {@code doCatch} of the task route: a task the router cannot place (unknown tier or group). */
    public void rejected(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx,
            @ExchangeProperty(Exchange.EXCEPTION_CAUGHT) Exception cause) {
        ctx.fail(new TaskError(ErrorClass.INVALID_TASK, cause.getMessage()));
    }
}
