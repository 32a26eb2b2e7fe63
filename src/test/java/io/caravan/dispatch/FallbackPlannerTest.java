package io.caravan.dispatch;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.provider.TokenUsage;
import io.caravan.resilience.Breakers;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.KeyPool;
import io.caravan.support.TestCatalog;
import io.caravan.task.Outcome;
import io.caravan.task.Task;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskParser;
import io.caravan.util.Json;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The fallback planner's walk as a state machine, without routes or providers: which deployment comes next after
 * each outcome, and how the task ends when nothing is left.
 */
class FallbackPlannerTest {

    /** Group {@code a} (cheap before dear), falling back to {@code b}; {@code big} takes what {@code a} cannot. */
    static final Catalog CATALOG = TestCatalog.create()
            .simulated("sim")
            .model("a", "sim", "cheap", 1.0)
            .model("a", "sim", "dear", 2.0)
            .model("b", "sim", "other")
            .model("big", "sim", "long-context")
            .block("fallbacks:\n  a: [b]\n")
            .block("context_window_fallbacks:\n  a: [big]\n")
            .block("groups:\n  a: {strategy: cost}\n")
            .load();

    final FallbackPlanner planner = new FallbackPlanner(new KeyPool(), new Breakers());

    static TaskContext task(long timeoutMs) {
        Task task = new TaskParser(1 << 20).fromJson(Json.object().put("model", "a").put("prompt", "hi"), "t-1");
        TaskContext ctx = new TaskContext(task, TaskContext.Source.HTTP, CATALOG, timeoutMs);
        ctx.route("balanced", "a", "test");
        return ctx;
    }

    /** Each deployment the planner sends the task to, failing it with {@code failure} there, until it stops. */
    List<String> walk(TaskContext ctx, ErrorClass failure) {
        planner.plan(ctx);
        List<String> visited = new ArrayList<>();
        String endpoint;
        while ((endpoint = planner.next(ctx)) != null && visited.size() < 20) {
            if (endpoint.equals(FallbackPlanner.COOLDOWN_WAIT)) {
                visited.add("wait");
                continue;
            }
            visited.add(ctx.current().deployment().model());
            ctx.record(ctx.current(), Outcome.failed(failure), 500, 1, TokenUsage.NONE);
        }
        return visited;
    }

    @Test
    void aFailureThatFallsBackTriesTheGroupInStrategyOrderThenItsFallbacksThenEnds() {
        TaskContext ctx = task(60_000);

        assertThat(walk(ctx, ErrorClass.SERVER_ERROR)).containsExactly("cheap", "dear", "other");
        assertThat(ctx.error().type()).isEqualTo(ErrorClass.EXHAUSTED);
        assertThat(ctx.error().message()).contains("all 3 attempts failed", "a#0 server_error", "b#0 server_error");
    }

    @Test
    void anAnswerFromAnyButTheFirstDeploymentIsAFallback() {
        TaskContext ctx = task(60_000);
        planner.plan(ctx);

        assertThat(planner.next(ctx)).isEqualTo(DeploymentRoutes.endpoint(ctx.current().deployment()));
        assertThat(ctx.current().fallback()).isFalse();
        ctx.record(ctx.current(), Outcome.failed(ErrorClass.TIMEOUT), null, 1, TokenUsage.NONE);
        planner.next(ctx);
        assertThat(ctx.current().deployment().model()).isEqualTo("dear");
        assertThat(ctx.current().fallbackFrom()).isEqualTo(first(CATALOG.group("a")).id());
    }

    @Test
    void aFailureThatDoesNotFallBackEndsTheTaskWithItsOwnClass() {
        TaskContext ctx = task(60_000);

        assertThat(walk(ctx, ErrorClass.BAD_REQUEST)).containsExactly("cheap");
        assertThat(ctx.error().type()).isEqualTo(ErrorClass.BAD_REQUEST);
    }

    @Test
    void aContextWindowFailureLeavesTheChainForTheLargerModelsOnly() {
        TaskContext ctx = task(60_000);

        assertThat(walk(ctx, ErrorClass.CONTEXT_WINDOW)).containsExactly("cheap", "long-context");
        assertThat(ctx.error().type()).isEqualTo(ErrorClass.CONTEXT_WINDOW);
    }

    @Test
    void aRoundTurnedAwayOnlyByCoolingWaitsABoundedNumberOfTimes() {
        TaskContext ctx = task(60_000);

        List<String> visited = walk(ctx, ErrorClass.RATE_LIMITED);

        // three rounds of the whole chain, each followed by a wait; the fourth round ends the task
        List<String> round = List.of("cheap", "dear", "other");
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < FallbackPlanner.MAX_COOLDOWN_WAITS; i++) {
            expected.addAll(round);
            expected.add("wait");
        }
        expected.addAll(round);
        assertThat(visited).containsExactlyElementsOf(expected);
        assertThat(ctx.error().type()).isEqualTo(ErrorClass.EXHAUSTED);
    }

    @Test
    void aCallerWhoLeftStopsTheWalk() {
        TaskContext ctx = task(60_000);
        planner.plan(ctx);
        planner.next(ctx);
        ctx.markCallerGone();

        assertThat(planner.next(ctx)).isNull();
        assertThat(ctx.error().type()).isEqualTo(ErrorClass.CANCELLED);
    }

    @Test
    void aTaskPastItsDeadlineIsNotSentAnywhere() {
        TaskContext ctx = task(0);

        assertThat(walk(ctx, ErrorClass.SERVER_ERROR)).isEmpty();
        assertThat(ctx.error().type()).isEqualTo(ErrorClass.TIMEOUT);
    }

    private static DeploymentSpec first(List<DeploymentSpec> group) {
        return group.stream().filter(d -> d.model().equals("cheap")).findFirst().orElseThrow();
    }
}
