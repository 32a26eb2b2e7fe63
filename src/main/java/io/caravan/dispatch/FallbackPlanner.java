package io.caravan.dispatch;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderAdapters;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.KeyPool;
import io.caravan.resilience.RateLimits;
import io.caravan.dispatch.strategy.DeploymentStats;
import io.caravan.dispatch.strategy.GroupStrategies;
import io.caravan.provider.TokenUsage;
import io.caravan.task.Attempt;
import io.caravan.task.Outcome;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskContext.Candidate;
import io.caravan.task.TaskError;
import io.caravan.resilience.Breakers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Walks a task's fallback chain for the Dynamic Router in {@code routes/dispatch.yaml}: the routed group's
 * deployments (in the order of the group's strategy, weighted round-robin by default), then each group of its {@code fallbacks} chain. {@link #next}
 * answers the endpoint of the next deployment to try, or null when the task is answered or cannot go on.
 */
public final class FallbackPlanner {

    private static final Logger LOG = LoggerFactory.getLogger(FallbackPlanner.class);

    /** Waits for a cooling deployment or key per task, at most. */
    static final int MAX_COOLDOWN_WAITS = 3;
    public static final String COOLDOWN_WAIT = "direct:cooldown-wait";
    /**
     * Waits for rpm/tpm capacity per task, at most ({@link Outcome#WAITED}: a wait, not a failure, otherwise
     * bounded by the task's deadline only).
     */
    static final int MAX_CAPACITY_WAITS = 50;

    private final KeyPool keys;
    private final Breakers breakers;
    private final RateLimits limits;
    private final GroupStrategies strategies;

    public FallbackPlanner(KeyPool keys, Breakers breakers) {
        this(keys, breakers, new RateLimits(), new GroupStrategies(new DeploymentStats()));
    }

    public FallbackPlanner(KeyPool keys, Breakers breakers, RateLimits limits, GroupStrategies strategies) {
        this.keys = keys;
        this.breakers = breakers;
        this.limits = limits;
        this.strategies = strategies;
    }

    private volatile FairShare fairShare;

    /** Tasks of tenants waiting for a provider's capacity queue in its fair-share lane (null: they sleep and look again). */
    public FallbackPlanner sharedFairly(FairShare fairShare) {
        this.fairShare = fairShare;
        return this;
    }

    /** Lays out the candidates for the task's group and its fallbacks. */
    public void plan(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        Catalog catalog = ctx.catalog();
        List<Candidate> candidates = new ArrayList<>();
        addGroup(candidates, catalog, ctx.group());
        for (String fallback : catalog.fallbackChain(ctx.group())) {
            addGroup(candidates, catalog, fallback);
        }
        ctx.plan(markFallbacks(ctx, candidates));
    }

    private void addGroup(List<Candidate> into, Catalog catalog, String group) {
        for (DeploymentSpec d : strategies.order(catalog, group)) {
            if (callable(catalog, d)) {
                into.add(new Candidate(d, group, null));
            }
        }
    }

    /**
     * The one meaning of "fallback" (docs/routing-and-fallback.md, Fallback): an answer from any deployment but the first of the task's
     * plan. Deployments that cannot be called are not in the plan, so they never make the answer a fallback.
     */
    private static List<Candidate> markFallbacks(TaskContext ctx, List<Candidate> planned) {
        String first = ctx.firstChoice() != null ? ctx.firstChoice()
                : planned.isEmpty() ? null : planned.get(0).deployment().id();
        List<Candidate> marked = new ArrayList<>(planned.size());
        for (Candidate c : planned) {
            marked.add(new Candidate(c.deployment(), c.group(), c.deployment().id().equals(first) ? null : first));
        }
        return marked;
    }

    /**
     * A deployment whose provider needs keys but has none configured is left out of every plan; the adapter says
     * whether it needs keys (cloud credentials and the simulated provider do not).
     */
    private boolean callable(Catalog catalog, DeploymentSpec d) {
        ProviderSpec provider = catalog.providerOf(d);
        return ProviderAdapters.forProvider(provider).credentials(provider) != ProviderAdapter.Credentials.KEYS
                || keys.size(d.provider()) > 0;
    }

    /** The Dynamic Router's expression: the next deployment's endpoint, or null to stop. */
    public String next(TaskContext ctx) {
        String next = step(ctx);
        FairShare fair = fairShare;
        if (next == null && fair != null) {
            fair.ended(ctx);
        }
        return next;
    }

    private String step(TaskContext ctx) {
        FairShare fair = fairShare;
        if (ctx.done()) {
            return null;
        }
        if (ctx.callerGone()) {
            ctx.fail(new TaskError(ErrorClass.CANCELLED, "the caller went away after " + ctx.attemptCount()
                    + " attempts: " + outcomes(ctx)));
            return null;
        }
        Attempt last = ctx.lastAttempt();
        if (last != null && !last.outcome().isFailure()) {
            last = null; // a wait for capacity, or an answer sent one tier up: the plan starts afresh
        }
        if (last != null) {
            ErrorClass failure = last.outcome().failure();
            if (failure == ErrorClass.CONTEXT_WINDOW) {
                replanForContextWindow(ctx);
            } else if (failure == ErrorClass.CONTENT_FILTERED) {
                replanAlong(ctx, ctx.catalog()::contentFilterChain);
            } else if (!failure.fallsBack()) {
                ctx.fail(new TaskError(failure, "the provider rejected the task: " + lastMessage(ctx, last)));
                return null;
            }
        }
        if (ctx.pastDeadline()) {
            ctx.fail(new TaskError(ErrorClass.TIMEOUT, "task deadline passed after " + ctx.attemptCount()
                    + " attempts: " + outcomes(ctx)));
            return null;
        }
        Candidate previous = ctx.current();
        Candidate candidate = ctx.advance();
        if (candidate == null) {
            Wait wait = cooldownWait(ctx);
            if (wait != null) {
                LOG.info("waiting task={} requested_model={} wait_ms={} for {}", ctx.task().id(),
                        ctx.task().model(), wait.duration().toMillis(),
                        wait.forCapacity() ? "rpm/tpm capacity" : "a cooling deployment or key");
                // a cooldown's wait is rounded up, and a millisecond more: cooldowns are kept in wall-clock
                // milliseconds, and a task woken a fraction early finds its deployment still cooling and records a
                // skip for nothing (a capacity wait ends on the window's boundary, as the limiter counts it)
                long ms = wait.forCapacity() ? Math.max(1, wait.duration().toMillis())
                        : (wait.duration().toNanos() + 999_999) / 1_000_000 + 1;
                ctx.waitForCooldown(ms);
                if (wait.forCapacity()) {
                    Candidate at = wait.candidate();
                    ctx.record(at, Outcome.WAITED, null, ms, TokenUsage.NONE);
                    ProviderSpec provider = ctx.catalog().providerOf(at.deployment());
                    if (fair != null && FairShare.applies(ctx, provider)) {
                        // queued in the provider's lane until a call of its own is free, in its tenant's turn
                        fair.willWait(ctx, provider);
                        plan(ctx);
                        return FairShare.CAPACITY_WAIT;
                    }
                }
                plan(ctx);
                return COOLDOWN_WAIT;
            }
            ctx.fail(exhausted(ctx));
            return null;
        }
        if (previous != null) {
            LOG.info("fallback task={} requested_model={} from={} to={} attempt={} error={}",
                    ctx.task().id(), ctx.task().model(), previous.deployment().id(), candidate.deployment().id(),
                    ctx.nextAttemptNumber(), last == null ? "-" : last.outcome());
        }
        return DeploymentRoutes.endpoint(candidate.deployment());
    }

    /** The delay of the cooldown-wait route. */
    public long pendingWait(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        return ctx.pendingWaitMs();
    }

    /** A wait before the plan is tried again: how long, for which candidate, and whether for rpm/tpm capacity. */
    record Wait(Duration duration, Candidate candidate, boolean forCapacity) {}

    /**
     * When every attempt of this round was turned away by a cooling breaker or key, or by a key's rpm/tpm limit,
     * the time until the first of the plan's deployments can be called again, if that fits in the task's
     * deadline; otherwise null.
     */
    private Wait cooldownWait(TaskContext ctx) {
        List<Attempt> round = ctx.attemptsThisRound();
        if (round.isEmpty() || !round.stream().allMatch(FallbackPlanner::worthWaitingFor)) {
            return null;
        }
        long tokens = ProviderCalls.estimateTokens(ctx);
        Wait earliest = null;
        for (Candidate c : ctx.plan()) {
            String provider = c.deployment().provider();
            Duration breaker = breakers.untilCallable(c.deployment().id());
            int keyCount = keys.size(provider);
            Duration key = keyCount == 0 ? Duration.ZERO : keys.untilAvailable(provider);
            Duration capacity = keyCount == 0 ? Duration.ZERO
                    : limits.untilCapacity(ctx.catalog().providerOf(c.deployment()), keyCount, tokens);
            FairShare fair = fairShare;
            if (fair != null && keyCount > 0 && capacity.isZero()
                    && fair.queueing(ctx, ctx.catalog().providerOf(c.deployment()))) {
                // capacity now, but tasks queue for it: this one waits for its turn among them
                capacity = Duration.ofMillis(1);
            }
            Duration ready = breaker.compareTo(key) >= 0 ? breaker : key;
            boolean forCapacity = capacity.compareTo(ready) > 0;
            if (forCapacity) {
                ready = capacity;
            }
            if (earliest == null || ready.compareTo(earliest.duration()) < 0) {
                earliest = new Wait(ready, c, forCapacity);
            }
        }
        if (earliest == null || earliest.duration().toMillis() >= ctx.remainingMs()) {
            return null;
        }
        int capacityWaits = ctx.count(Outcome.WAITED);
        int cooldownWaits = ctx.cooldownWaits() - capacityWaits;
        if (earliest.forCapacity() ? capacityWaits >= MAX_CAPACITY_WAITS : cooldownWaits >= MAX_COOLDOWN_WAITS) {
            return null;
        }
        return earliest;
    }

    /** Context-window errors leave the ordinary chain: only the group's larger context-window fallbacks follow. */
    private void replanForContextWindow(TaskContext ctx) {
        replanAlong(ctx, ctx.catalog()::contextWindowChain);
    }

    /** Replaces the plan with the groups of a special chain (context window, content filter) of the failed group. */
    private void replanAlong(TaskContext ctx, java.util.function.Function<String, List<String>> chain) {
        Candidate current = ctx.current();
        String group = current == null ? ctx.group() : current.group();
        List<Candidate> candidates = new ArrayList<>();
        for (String next : chain.apply(group)) {
            addGroup(candidates, ctx.catalog(), next);
        }
        ctx.plan(markFallbacks(ctx, candidates));
    }

    private static TaskError exhausted(TaskContext ctx) {
        if (ctx.attemptCount() == 0) {
            return new TaskError(ErrorClass.EXHAUSTED,
                    "no deployment can serve group " + ctx.group() + " (providers without keys?)");
        }
        Attempt last = ctx.lastAttempt();
        if (last.outcome().is(ErrorClass.CONTENT_FILTERED)) {
            return new TaskError(ErrorClass.CONTENT_FILTERED,
                    "a content filter refused the task and no content_filter_fallbacks took it: " + outcomes(ctx));
        }
        if (last.outcome().is(ErrorClass.CONTEXT_WINDOW)) {
            return new TaskError(ErrorClass.CONTEXT_WINDOW,
                    "the prompt is longer than every model that was tried takes: " + outcomes(ctx));
        }
        return new TaskError(ErrorClass.EXHAUSTED, "all " + ctx.attemptCount() + " attempts failed: " + outcomes(ctx));
    }

    static String outcomes(TaskContext ctx) {
        return ctx.attempts().stream()
                .map(a -> a.deployment() + " " + a.outcome())
                .collect(Collectors.joining(", "));
    }

    /** An attempt that says "not now" rather than "not this" (the error table's {@code worthWaitingFor}). */
    private static boolean worthWaitingFor(Attempt attempt) {
        ErrorClass failure = attempt.outcome().failure();
        return failure != null && failure.policy().worthWaitingFor();
    }

    private static String lastMessage(TaskContext ctx, Attempt last) {
        String message = ctx.lastFailureMessage();
        return message == null ? last.outcome().wireName() : message;
    }
}
