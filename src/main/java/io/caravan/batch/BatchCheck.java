package io.caravan.batch;

import io.caravan.catalog.BatchSpec;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.util.Durations;
import java.util.Locale;

/** The {@code Batches} section of {@code caravan check}: which deployments can batch, with what settings and price. */
public final class BatchCheck {

    private BatchCheck() {}

    public static String render(Catalog catalog) {
        StringBuilder sb = new StringBuilder("\nBatches (tasks with a deadline that leaves min_slack)\n");
        boolean any = false;
        for (DeploymentSpec d : catalog.deployments()) {
            ProviderSpec p = catalog.providerOf(d);
            BatchSpec.Provider b = catalog.batches().providers().get(d.provider());
            sb.append("  ").append(d.id()).append(" (").append(d.provider()).append("): ");
            if (b == null || !b.enabled()) {
                sb.append("online only").append(b == null ? "" : " (batch: enabled: false)").append('\n');
                continue;
            }
            if (!BatchAdapters.supports(p.api())) {
                sb.append("online only (api ").append(p.api()).append(" has no batch adapter yet)\n");
                continue;
            }
            if (p.apiKeys().isEmpty()) {
                sb.append("online only (no API keys)\n");
                continue;
            }
            any = true;
            Price price = catalog.batches().priceOf(d);
            sb.append("batch: window ").append(Durations.format(b.window()))
                    .append(", min_slack ").append(Durations.format(b.minSlack()))
                    .append(", collect ").append(Durations.format(b.collect()))
                    .append(", poll ").append(Durations.format(b.poll()))
                    .append(", up to ").append(b.maxRequests()).append(" requests / ")
                    .append(b.maxBytes() / (1024 * 1024)).append(" MiB, price in/cached/out per 1M ")
                    .append(num(price.input())).append('/')
                    .append(price.cachedInput() == null ? "-" : num(price.cachedInput())).append('/')
                    .append(num(price.output())).append('\n');
        }
        if (!any) {
            sb.append("  (no deployment can batch: every task goes online)\n");
        }
        return sb.toString();
    }

    private static String num(double v) {
        return String.format(Locale.ROOT, "%.4f", v).replaceAll("0+$", "").replaceAll("\\.$", "");
    }
}
