package io.caravan.intake;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.TenantSpec;
import io.caravan.resilience.ErrorClass;
import io.caravan.task.Task;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskError;
import java.nio.charset.StandardCharsets;
import org.apache.camel.Exchange;

/**
 * The tenant of a task, when the catalog has tenants: on HTTP the one the bearer key is of ({@link TenantAuth});
 * on Kafka the record header {@code caravan.tenants.kafka-header} ({@code caravan-tenant}), which the publishing
 * side sets and Kafka's ACLs on the tasks topic vouch for (without the header, the task's own
 * {@code metadata.tenant}: the same publisher wrote both). The task's {@code metadata.tenant} is set to it, and
 * the tenant's default metadata fill the fields the task leaves out. A task naming another tenant is
 * {@code tenant_mismatch}; a Kafka task of no known tenant is {@code unknown_tenant} (an error result and a dead
 * letter). Without tenants nothing changes: {@code metadata.tenant} is what the caller wrote.
 */
public final class TenantIdentity {

    private final String kafkaHeader;

    public TenantIdentity(String kafkaHeader) {
        this.kafkaHeader = kafkaHeader;
    }

    /** Sets the task's tenant, or ends the task with why it cannot have one. */
    public void identify(Exchange exchange, TaskContext ctx) {
        Catalog catalog = ctx.catalog();
        if (!catalog.hasTenants()) {
            return;
        }
        Task task = ctx.task();
        String claimed = task.tenant();
        String tenant;
        switch (ctx.source()) {
            case HTTP, CHAT -> {
                tenant = header(exchange, TenantAuth.TENANT_HEADER);
                if (tenant == null) { // the edge refuses such a request; a route called some other way is too
                    ctx.fail(new TaskError(ErrorClass.AUTH, "no API key of a tenant"));
                    return;
                }
            }
            case KAFKA -> {
                String fromHeader = header(exchange, kafkaHeader);
                tenant = fromHeader != null ? fromHeader : claimed;
                if (tenant == null || catalog.tenant(tenant) == null) {
                    ctx.fail(new TaskError(ErrorClass.UNKNOWN_TENANT, tenant == null
                            ? "the record names no tenant (header " + kafkaHeader + ")"
                            : "unknown tenant '" + shortened(tenant) + "' (header " + kafkaHeader + ")"));
                    return;
                }
            }
            default -> {
                return;
            }
        }
        if (claimed != null && !claimed.equals(tenant)) {
            ctx.fail(new TaskError(ErrorClass.TENANT_MISMATCH, "metadata.tenant is '" + shortened(claimed)
                    + "' but the " + (ctx.source() == TaskContext.Source.KAFKA ? "record header" : "API key")
                    + " is of tenant '" + tenant + "'"));
            return;
        }
        ObjectNode metadata = task.metadata();
        metadata.put("tenant", tenant);
        TenantSpec spec = catalog.tenant(tenant);
        if (spec != null) {
            spec.metadata().properties().forEach(f -> {
                if (!metadata.has(f.getKey())) {
                    metadata.set(f.getKey(), f.getValue());
                }
            });
        }
    }

    private static String header(Exchange exchange, String name) {
        Object value = exchange.getMessage().getHeader(name);
        String text = value instanceof byte[] b ? new String(b, StandardCharsets.UTF_8)
                : value == null ? null : value.toString();
        return text == null || text.isBlank() ? null : text.trim();
    }

    private static String shortened(String name) {
        return name.length() <= 64 ? name : name.substring(0, 64) + "...";
    }
}
