package io.caravan.shaping;

import com.fasterxml.jackson.databind.DeserializationFeature;
import java.io.IOException;
import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.catalog.ShapingSpec;
import io.caravan.catalog.TierSpec;
import io.caravan.provider.ProviderReply;
import io.caravan.task.Task;
import io.caravan.task.Outcome;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskContext.Candidate;
import io.caravan.util.Json;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Progressive escalation (catalog {@code escalation:}, off when absent), around the dispatch route: a task routed
 * automatically ({@code model: auto}, no explicit tier) to one of the escalation tiers starts at the cheapest of
 * them; when its answer fails a quality gate, that attempt becomes {@code escalated} (its cost still counts) and
 * the task is dispatched again on the next tier. The last tier's answer stands whatever the gates say; when a
 * higher tier fails outright, the last answer that came back is the result.
 */
public final class Escalation {

    private static final Logger LOG = LoggerFactory.getLogger(Escalation.class);

    /** Exchange property: the last answer turned down by a gate, kept in case the higher tiers all fail. */
    static final String PREVIOUS = "caravanEscalatedReply";

    private record Kept(ProviderReply reply, Candidate by) {}

    /** Before the first plan: an escalating task starts at the cheapest escalation tier. */
    public void start(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx) {
        ShapingSpec.Escalation spec = applies(ctx);
        if (spec == null) {
            return;
        }
        String first = spec.tiers().get(0);
        if (!first.equals(ctx.tier())) {
            TierSpec tier = ctx.catalog().tier(first);
            ctx.route(first, tier.group(), "escalation starts at the cheapest tier " + first + " (routed to "
                    + ctx.tier() + ": " + ctx.routingReason() + ")");
        }
    }

    /**
     * The loop's condition after each dispatch, without side effects: true when the answer failed a gate and a
     * higher tier is left.
     */
    public boolean due(TaskContext ctx) {
        return failedGate(ctx) != null;
    }

    /** The gate the answer failed, when it is to be escalated; null otherwise. */
    private static String failedGate(TaskContext ctx) {
        ShapingSpec.Escalation spec = applies(ctx);
        if (spec == null || ctx.reply() == null || ctx.error() != null || ctx.pastDeadline()) {
            return null;
        }
        int at = spec.tiers().indexOf(ctx.tier());
        if (at < 0 || at + 1 >= spec.tiers().size()) {
            return null;
        }
        return failedGate(spec.gates(), ctx.reply(), ctx.task());
    }

    /** The loop's first step: the answer is set aside and the task is routed one tier up. */
    public void escalate(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        String failed = failedGate(ctx);
        if (failed == null) {
            return; // due() said otherwise a moment ago: only a passed deadline can change it, and then stay
        }
        ShapingSpec.Escalation spec = applies(ctx);
        int at = spec.tiers().indexOf(ctx.tier());
        ctx.relabelLastAttempt(Outcome.ESCALATED);
        exchange.setProperty(PREVIOUS, new Kept(ctx.reply(), ctx.answeredBy()));
        String from = ctx.tier();
        String next = spec.tiers().get(at + 1);
        LOG.info("escalating task={} from={} to={} gate={}", ctx.task().id(), from, next, failed);
        ctx.reopen();
        ctx.route(next, ctx.catalog().tier(next).group(), "escalated from " + from + ": " + failed);
    }

    /** After the loop: when a higher tier failed outright, the last answer that came back stands. */
    public void finish(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx,
            @ExchangeProperty(PREVIOUS) Object kept) {
        if (kept instanceof Kept k && ctx.reply() == null && ctx.error() != null) {
            LOG.info("escalation of task={} failed ({}); answering with the {} answer", ctx.task().id(),
                    ctx.error().type(), k.by().group());
            ctx.succeed(k.reply(), k.by());
        }
    }

    private static ShapingSpec.Escalation applies(TaskContext ctx) {
        ShapingSpec.Escalation spec = ctx.catalog().shaping().escalation();
        Task task = ctx.task();
        if (spec == null || !Task.AUTO.equals(task.model()) || task.tier() != null
                || !spec.tiers().contains(ctx.tier())) {
            return null;
        }
        return spec;
    }

    /** The first gate the answer fails, described, or null when it passes them all. */
    static String failedGate(ShapingSpec.Gates gates, ProviderReply reply, Task task) {
        JsonNode calls = reply.message().get("tool_calls");
        if (calls != null && calls.isArray() && !calls.isEmpty()) {
            return null; // a tool call is an answer of its own kind: the agent acts on it
        }
        if (gates.finishReason() != null && !gates.finishReason().equals(reply.finishReason())) {
            return "finish_reason " + reply.finishReason() + " is not " + gates.finishReason();
        }
        JsonNode contentNode = reply.message().get("content");
        String content = contentNode == null || contentNode.isNull() ? "" : contentNode.asText();
        if (gates.minChars() != null && content.strip().length() < gates.minChars()) {
            return "output of " + content.strip().length() + " chars is shorter than " + gates.minChars();
        }
        if (gates.json() != null && ("always".equals(gates.json()) || asksForJson(task)) && !isJson(content)) {
            return "output is not valid JSON";
        }
        if (gates.regex() != null && !gates.regex().matcher(content).find()) {
            return "output does not match " + gates.regex().pattern();
        }
        return null;
    }

    static boolean asksForJson(Task task) {
        JsonNode format = task.params().path("response_format").path("type");
        return format.isTextual() && format.asText().startsWith("json");
    }

    /** The whole output is one JSON value (no prose around it). */
    static boolean isJson(String content) {
        String text = content.strip();
        if (text.isEmpty()) {
            return false;
        }
        try {
            Json.MAPPER.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(text);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
