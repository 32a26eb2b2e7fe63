package io.caravan.routing;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.RoutingSpec;
import io.caravan.catalog.TierSpec;
import io.caravan.task.InvalidTaskException;
import io.caravan.task.Task;
import io.caravan.task.TaskContext;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;

/**
 * The rules of the tier router, one per {@code when} of the content-based router in
 * {@code routes/tier-router.yaml}: a named predicate saying whether the rule applies ({@link #hasExplicitTier},
 * {@link #asksForTierAlias}, {@link #asksForGroup}, {@link #matchesKeyword}, bound as plain Camel predicates for
 * the {@code ref} language: a bean predicate would copy the exchange for each rule of each task) and an action
 * recording the decision ({@code tier}, the group, {@code routing_reason}) on the task.
 */
public final class TierRouter {

    /** The exchange property holding the keyword rule that matched, found once by {@link #matchesKeyword}. */
    static final String KEYWORD_MATCH = "caravanKeywordMatch";

    /** The first keyword rule (in catalog order) found in the user's text. */
    record KeywordMatch(String tier, String keyword) {}

    private static final Map<String, Pattern> KEYWORD_PATTERNS = new java.util.concurrent.ConcurrentHashMap<>();

    private final ComplexityScorer scorer = new ComplexityScorer();

    private static Pattern wholeWord(String keyword) {
        return Pattern.compile("\\b" + Pattern.quote(keyword.toLowerCase(Locale.ROOT)) + "\\b");
    }

    /** The task names its tier ({@code "tier": ...}). */
    public static boolean hasExplicitTier(Exchange exchange) {
        return TaskContext.of(exchange).task().tier() != null;
    }

    public void byExplicitTier(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        String name = ctx.task().tier();
        TierSpec tier = requireTier(ctx.catalog(), name, "tier");
        ctx.route(tier.name(), tier.group(), "tier " + name + " requested");
    }

    /** The task's model is a tier alias, {@code tier:NAME}. */
    public static boolean asksForTierAlias(Exchange exchange) {
        return TaskContext.of(exchange).task().model().startsWith(Task.TIER_PREFIX);
    }

    public void byTierAlias(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        String name = ctx.task().model().substring(Task.TIER_PREFIX.length());
        TierSpec tier = requireTier(ctx.catalog(), name, "model");
        ctx.route(tier.name(), tier.group(), "model tier:" + name + " requested");
    }

    /** The task's model names a group (anything but {@code auto}; asked after the tier alias). */
    public static boolean asksForGroup(Exchange exchange) {
        return !Task.AUTO.equals(TaskContext.of(exchange).task().model());
    }

    /** A keyword rule of the catalog is in the user's text; the first that matched is kept for {@link #byKeyword}. */
    public static boolean matchesKeyword(Exchange exchange) {
        KeywordMatch match = keywordMatch(TaskContext.of(exchange));
        exchange.setProperty(KEYWORD_MATCH, match);
        return match != null;
    }

    public void byGroup(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        String group = ctx.task().model();
        if (!ctx.catalog().hasGroup(group)) {
            throw new InvalidTaskException(
                    "model '" + group + "' is not auto, a group of the catalog or tier:NAME", ctx.task().id());
        }
        TierSpec tier = ctx.catalog().tierOfGroup(group);
        ctx.route(tier == null ? null : tier.name(), group, "model " + group + " requested");
    }

    public void byKeyword(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx,
            @ExchangeProperty(KEYWORD_MATCH) KeywordMatch match) {
        TierSpec tier = ctx.catalog().tier(match.tier());
        ctx.route(tier.name(), tier.group(), "keyword '" + match.keyword() + "' -> " + tier.name());
    }

    /** The complexity score: agent weight x mean(scores) + task weight x task features; task features alone without scores. */
    public void byScore(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        Catalog catalog = ctx.catalog();
        RoutingSpec routing = catalog.routing();
        Double agent = ComplexityScorer.agentScore(ctx.task().scores());
        if (agent == null && ComplexityScorer.UserText.of(ctx.task().messages()).isBlank()) {
            throw new IllegalStateException("nothing to score: no agent scores and no user text");
        }
        double task = scorer.features(ctx.task().messages()).mean();
        double score;
        String detail;
        if (agent == null) {
            score = task;
            detail = "task " + oneDecimal(task);
        } else {
            double weights = routing.agentWeight() + routing.taskWeight();
            score = (routing.agentWeight() * agent + routing.taskWeight() * task) / weights;
            detail = "agent " + oneDecimal(agent) + ", task " + oneDecimal(task);
        }
        if (Double.isNaN(score) || Double.isInfinite(score)) {
            throw new IllegalStateException("complexity score is not a number");
        }
        TierSpec tier = tierForScore(catalog.tierList(), score);
        ctx.route(tier.name(), tier.group(), "score " + oneDecimal(score) + " (" + detail + ") -> " + tier.name());
    }

    /** A score as the reason shows it, e.g. 2.5 (every task has one: no Formatter on this path). */
    static String oneDecimal(double value) {
        return BigDecimal.valueOf(value).setScale(1, RoundingMode.HALF_UP).toPlainString();
    }

    /** When scoring cannot decide, the catalog's default tier. */
    public void byDefaultTier(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        TierSpec tier = ctx.catalog().tier(ctx.catalog().defaultTier());
        ctx.route(tier.name(), tier.group(), "default tier " + tier.name() + " (scoring failed)");
    }

    static TierSpec tierForScore(List<TierSpec> cheapestFirst, double score) {
        for (TierSpec tier : cheapestFirst) {
            if (tier.maxScore() == null || score <= tier.maxScore()) {
                return tier;
            }
        }
        return cheapestFirst.get(cheapestFirst.size() - 1);
    }

    private static TierSpec requireTier(Catalog catalog, String name, String field) {
        TierSpec tier = catalog.tier(name);
        if (tier == null) {
            throw new InvalidTaskException(field + " names unknown tier '" + name + "'", null);
        }
        return tier;
    }

    /** The first keyword rule (in catalog order) found in the user's text, or null. */
    private static KeywordMatch keywordMatch(TaskContext ctx) {
        Map<String, List<String>> rules = ctx.catalog().routing().keywords();
        if (rules.isEmpty()) {
            return null;
        }
        String text = ComplexityScorer.UserText.of(ctx.task().messages()).toLowerCase(Locale.ROOT);
        for (Map.Entry<String, List<String>> rule : rules.entrySet()) {
            for (String keyword : rule.getValue()) {
                if (KEYWORD_PATTERNS.computeIfAbsent(keyword, TierRouter::wholeWord).matcher(text).find()) {
                    return new KeywordMatch(rule.getKey(), keyword);
                }
            }
        }
        return null;
    }
}
