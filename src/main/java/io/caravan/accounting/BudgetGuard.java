package io.caravan.accounting;

import io.caravan.catalog.BudgetSpec;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.TierSpec;
import io.caravan.resilience.ErrorClass;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskError;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.apache.camel.ExchangeProperty;

/**
 * The tier router's last step: month-to-date budgets (catalog {@code budgets:}). When the chosen tier's budget or
 * the task tenant's budget is spent, {@code on_exceed: downgrade} moves the task to the next cheaper tier whose own
 * budget is not spent (noted in {@code routing_reason}); {@code reject}, or a downgrade with nowhere cheaper to go,
 * ends the task with {@code budget_exceeded}. A failed task is never dispatched (the planner stops on a done task).
 */
public final class BudgetGuard {

    private final SpendLedger ledger;
    private final Duration rebuildWait;

    public BudgetGuard(SpendLedger ledger, Duration rebuildWait) {
        this.ledger = ledger;
        this.rebuildWait = rebuildWait;
    }

    public void enforce(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) throws InterruptedException {
        BudgetSpec budgets = ctx.catalog().budgets();
        if (ctx.done() || budgets.tiers().isEmpty() && budgets.tenants().isEmpty()) {
            return;
        }
        if (!ledger.rebuilt()) {
            ledger.awaitRebuilt(rebuildWait);
        }
        String tier = ctx.tier();
        String tenant = ctx.task().tenant();
        String why = null;
        if (tier != null && tierSpent(budgets, tier)) {
            why = spentText("tier " + tier, ledger.tierSpend(tier), budgets.tiers().get(tier));
        } else if (tenant != null && budgets.tenants().containsKey(tenant)
                && ledger.tenantSpend(tenant) >= budgets.tenants().get(tenant)) {
            why = spentText("tenant " + tenant, ledger.tenantSpend(tenant), budgets.tenants().get(tenant));
        }
        if (why == null) {
            return;
        }
        if (!"downgrade".equals(budgets.onExceed())) {
            ctx.fail(new TaskError(ErrorClass.BUDGET_EXCEEDED, why));
            return;
        }
        TierSpec cheaper = nextCheaper(ctx.catalog(), budgets, tier);
        if (cheaper == null) {
            ctx.fail(new TaskError(ErrorClass.BUDGET_EXCEEDED, why + ", and no cheaper tier has budget left"));
            return;
        }
        ctx.route(cheaper.name(), cheaper.group(),
                ctx.routingReason() + "; " + why + " -> downgraded to " + cheaper.name());
    }

    /** The first tier below {@code tier} (tiers are cheapest first) whose budget is not spent, or null. */
    private TierSpec nextCheaper(Catalog catalog, BudgetSpec budgets, String tier) {
        List<TierSpec> tiers = catalog.tierList();
        int at = -1;
        for (int i = 0; i < tiers.size(); i++) {
            if (tiers.get(i).name().equals(tier)) {
                at = i;
            }
        }
        for (int i = at - 1; i >= 0; i--) {
            if (!tierSpent(budgets, tiers.get(i).name())) {
                return tiers.get(i);
            }
        }
        return null;
    }

    private boolean tierSpent(BudgetSpec budgets, String tier) {
        Double limit = budgets.tiers().get(tier);
        return limit != null && ledger.tierSpend(tier) >= limit;
    }

    private static String spentText(String scope, double spent, double limit) {
        return String.format(Locale.ROOT, "%s budget spent (%.2f of %.2f USD this month)", scope, spent, limit);
    }
}
