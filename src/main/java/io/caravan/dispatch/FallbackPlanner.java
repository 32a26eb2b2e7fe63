package io.caravan.dispatch;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.KeyPool;
import io.caravan.task.Attempt;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskContext.Candidate;
import io.caravan.task.TaskError;
import io.caravan.resilience.Breakers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Walks a task's fallback chain for the Dynamic Router in {@code routes/dispatch.yaml}: the routed group's
 * deployments (weighted round-robin first), then each group of its {@code fallbacks} chain. {@link #next}
 * answers the endpoint of the next deployment to try, or null when the task is answered or cannot go on.
 */
public final class FallbackPlanner {

    private static final Logger LOG = LoggerFactory.getLogger(FallbackPlanner.class);

    /** Outcomes that say "not now" rather than "not this": worth waiting for when nothing else is left. */
    private static final Set<String> COOLING = Set.of(ErrorClass.CIRCUIT_OPEN.wireName(),
            ErrorClass.RATE_LIMITED.wireName(), ErrorClass.QUOTA_EXHAUSTED.wireName(), ErrorClass.AUTH.wireName());
    /** Waits for a cooling deployment or key per task, at most. */
    static final int MAX_COOLDOWN_WAITS = 3;
    public static final String COOLDOWN_WAIT = "direct:cooldown-wait";

    private final WeightedRoundRobin roundRobin = new WeightedRoundRobin();
    private final KeyPool keys;
    private final Breakers breakers;

    public FallbackPlanner(KeyPool keys, Breakers breakers) {
        this.keys = keys;
        this.breakers = breakers;
    }

    /** Lays out the candidates for the task's group and its fallbacks. */
    public void plan(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        Catalog catalog = ctx.catalog();
        List<Candidate> candidates = new ArrayList<>();
        addGroup(candidates, catalog, ctx.group(), false);
        for (String fallback : catalog.fallbackChain(ctx.group())) {
            addGroup(candidates, catalog, fallback, true);
        }
        ctx.plan(candidates);
    }

    private void addGroup(List<Candidate> into, Catalog catalog, String group, boolean fallback) {
        for (DeploymentSpec d : roundRobin.order(group, catalog.group(group))) {
            if (callable(catalog, d)) {
                into.add(new Candidate(d, group, fallback));
            }
        }
    }

    /** A deployment whose provider needs keys but has none configured is left out of every plan. */
    private boolean callable(Catalog catalog, DeploymentSpec d) {
        return "simulated".equals(catalog.providerOf(d).api()) || keys.size(d.provider()) > 0;
    }

    /** The Dynamic Router's expression: the next deployment's endpoint, or null to stop. */
    public String next(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        if (ctx.done()) {
            return null;
        }
        if (ctx.callerGone()) {
            ctx.fail(new TaskError(ErrorClass.CANCELLED, "the caller went away after " + ctx.attempts().size()
                    + " attempts: " + outcomes(ctx)));
            return null;
        }
        Attempt last = ctx.lastAttempt();
        if (last != null) {
            ErrorClass failure = ErrorClass.valueOf(last.outcome().toUpperCase(java.util.Locale.ROOT));
            if (failure == ErrorClass.CONTEXT_WINDOW) {
                replanForContextWindow(ctx);
            } else if (!failure.fallsBack()) {
                ctx.fail(new TaskError(failure, "the provider rejected the task: " + lastMessage(ctx, last)));
                return null;
            }
        }
        if (ctx.pastDeadline()) {
            ctx.fail(new TaskError(ErrorClass.TIMEOUT, "task deadline passed after " + ctx.attempts().size()
                    + " attempts: " + outcomes(ctx)));
            return null;
        }
        Candidate previous = ctx.current();
        Candidate candidate = ctx.advance();
        if (candidate == null) {
            Duration wait = cooldownWait(ctx);
            if (wait != null) {
                LOG.info("waiting task={} requested_model={} wait_ms={} for a cooling deployment or key",
                        ctx.task().id(), ctx.task().model(), wait.toMillis());
                ctx.waitForCooldown(wait.toMillis());
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

    /**
     * When every attempt of this round was turned away by a cooling breaker or key, the time until the first of
     * the plan's deployments can be called again, if that fits in the task's deadline; otherwise null.
     */
    private Duration cooldownWait(TaskContext ctx) {
        List<Attempt> round = ctx.attemptsThisRound();
        if (round.isEmpty() || ctx.cooldownWaits() >= MAX_COOLDOWN_WAITS
                || !round.stream().allMatch(a -> COOLING.contains(a.outcome()))) {
            return null;
        }
        Duration earliest = null;
        for (Candidate c : ctx.plan()) {
            Duration breaker = breakers.untilCallable(c.deployment().id());
            Duration key = keys.size(c.deployment().provider()) == 0
                    ? Duration.ZERO : keys.untilAvailable(c.deployment().provider());
            Duration ready = breaker.compareTo(key) >= 0 ? breaker : key;
            if (earliest == null || ready.compareTo(earliest) < 0) {
                earliest = ready;
            }
        }
        if (earliest == null || earliest.toMillis() >= ctx.remainingMs()) {
            return null;
        }
        return earliest;
    }

    /** Context-window errors leave the ordinary chain: only the group's larger context-window fallbacks follow. */
    private void replanForContextWindow(TaskContext ctx) {
        Candidate current = ctx.current();
        String group = current == null ? ctx.group() : current.group();
        List<Candidate> candidates = new ArrayList<>();
        for (String larger : ctx.catalog().contextWindowChain(group)) {
            addGroup(candidates, ctx.catalog(), larger, true);
        }
        ctx.plan(candidates);
    }

    private static TaskError exhausted(TaskContext ctx) {
        if (ctx.attempts().isEmpty()) {
            return new TaskError(ErrorClass.EXHAUSTED,
                    "no deployment can serve group " + ctx.group() + " (providers without keys?)");
        }
        Attempt last = ctx.lastAttempt();
        if (ErrorClass.CONTEXT_WINDOW.wireName().equals(last.outcome())) {
            return new TaskError(ErrorClass.CONTEXT_WINDOW,
                    "the prompt is longer than every model that was tried takes: " + outcomes(ctx));
        }
        return new TaskError(ErrorClass.EXHAUSTED, "all " + ctx.attempts().size() + " attempts failed: " + outcomes(ctx));
    }

    static String outcomes(TaskContext ctx) {
        synchronized (ctx.attempts()) {
            return ctx.attempts().stream()
                    .map(a -> a.deployment() + " " + a.outcome())
                    .collect(Collectors.joining(", "));
        }
    }

    private static String lastMessage(TaskContext ctx, Attempt last) {
        String message = ctx.lastFailureMessage();
        return message == null ? last.outcome() : message;
    }
}
