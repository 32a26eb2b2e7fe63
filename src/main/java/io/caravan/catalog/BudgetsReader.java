package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/** Reads and validates the catalog's {@code budgets} block, and folds the tenants' own budgets into it. */
final class BudgetsReader extends BlockReader {

    BudgetsReader(String file, Consumer<String> warnings) {
        super(file, warnings);
    }

    BudgetSpec read(JsonNode block, Map<String, TierSpec> tiers) {
        if (absent(block)) {
            return BudgetSpec.NONE;
        }
        requireMapping(block, "budgets");
        Map<String, Double> byTier = amounts(block.get("tiers"), "budgets.tiers");
        for (String tier : byTier.keySet()) {
            if (!tiers.containsKey(tier)) {
                throw fail("budgets.tiers", "unknown tier '" + tier + "'");
            }
        }
        Map<String, Double> byTenant = amounts(block.get("tenants"), "budgets.tenants");
        String onExceed = BudgetSpec.NONE.onExceed();
        JsonNode oe = block.get("on_exceed");
        if (!absent(oe)) {
            onExceed = oe.asText().trim();
            if (!onExceed.equals("downgrade") && !onExceed.equals("reject")) {
                throw fail("budgets.on_exceed", "must be downgrade or reject, got '" + oe.asText() + "'");
            }
        }
        return new BudgetSpec(byTier, byTenant, onExceed);
    }

    /** A tenant's {@code budget} is its monthly budget; {@code budgets.tenants} still names the others. */
    BudgetSpec withTenantBudgets(BudgetSpec budgets, Map<String, TenantSpec> tenants) {
        Map<String, Double> byTenant = new LinkedHashMap<>(budgets.tenants());
        for (TenantSpec t : tenants.values()) {
            if (t.budget() == null) {
                continue;
            }
            if (byTenant.containsKey(t.name())) {
                throw fail("tenants." + t.name() + ".budget", "also set in budgets.tenants: keep one");
            }
            byTenant.put(t.name(), t.budget());
        }
        return byTenant.equals(budgets.tenants()) ? budgets
                : new BudgetSpec(budgets.tiers(), Collections.unmodifiableMap(byTenant), budgets.onExceed());
    }

    private Map<String, Double> amounts(JsonNode node, String entry) {
        Map<String, Double> out = new LinkedHashMap<>();
        if (absent(node)) {
            return Collections.unmodifiableMap(out);
        }
        requireMapping(node, entry);
        node.fieldNames().forEachRemaining(k -> out.put(k, number(node, k, entry)));
        out.values().removeIf(v -> v == null);
        return Collections.unmodifiableMap(out);
    }
}
