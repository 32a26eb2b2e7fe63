package io.caravan.catalog;

import java.util.Map;

/** The {@code budgets:} block: month-to-date USD limits per tier and per tenant. */
public record BudgetSpec(Map<String, Double> tiers, Map<String, Double> tenants, String onExceed) {

    public static final BudgetSpec NONE = new BudgetSpec(Map.of(), Map.of(), "downgrade");
}
