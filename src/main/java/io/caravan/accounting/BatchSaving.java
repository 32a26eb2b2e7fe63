package io.caravan.accounting;

import io.caravan.catalog.BatchSpec;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What the batch path saved: spend by mode, and what the batch-served attempts would have cost at the online price
 * of their deployment (from the catalog; without one, or for a deployment no longer in it, the batch cost is taken
 * as half the online price, the discount every provider gives today).
 */
public record BatchSaving(double onlineSpend, double batchSpend, double batchAtOnlinePrices, long batchAttempts) {

    public static BatchSaving of(Iterable<UsageEvent> events, Catalog catalog) {
        Map<String, Price> online = new HashMap<>();
        if (catalog != null) {
            for (DeploymentSpec d : catalog.deployments()) {
                online.put(d.id(), d.price());
            }
        }
        double onlineSpend = 0;
        double batchSpend = 0;
        double atOnline = 0;
        long attempts = 0;
        for (UsageEvent e : events) {
            if ("batch".equals(e.mode())) {
                batchSpend += e.costUsd();
                attempts++;
                Price p = online.get(e.deployment());
                atOnline += p != null ? p.cost(e.inputTokens(), e.cachedInputTokens(), e.outputTokens())
                        : e.costUsd() / BatchSpec.DEFAULT_DISCOUNT;
            } else {
                onlineSpend += e.costUsd();
            }
        }
        return new BatchSaving(onlineSpend, batchSpend, atOnline, attempts);
    }

    public double saved() {
        return Math.max(0, batchAtOnlinePrices - batchSpend);
    }

    /** Two lines under the report's table. */
    public String text() {
        return String.format(Locale.ROOT, "spend by mode: online %.6f USD, batch %.6f USD (%d attempts)%n"
                + "batch saving against online prices: %.6f USD (%.6f USD at online prices)%n", onlineSpend,
                batchSpend, batchAttempts, saved(), batchAtOnlinePrices);
    }
}
