package io.caravan.outlet;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.provider.ProviderReply;
import io.caravan.task.Attempt;
import io.caravan.task.Outcome;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskError;
import io.caravan.util.Json;
import java.util.ArrayList;
import java.util.List;

/** The contract's result (section 4) and usage event (section 5) JSON, built from a finished task. */
public final class ResultJson {

    private ResultJson() {}

    public static ObjectNode result(TaskContext ctx) {
        ObjectNode result = Json.object();
        result.put("id", ctx.task().id());
        ProviderReply reply = ctx.reply();
        TaskError error = ctx.error();
        boolean ok = error == null && reply != null;
        result.put("status", ok ? "ok" : "error");
        if (ok) {
            result.set("output", reply.message());
            result.put("finish_reason", reply.finishReason());
        } else {
            result.putNull("output");
            result.putNull("finish_reason");
        }
        result.put("tier", ctx.tier());
        result.put("routing_reason", ctx.routingReason());
        result.put("requested_model", ctx.task().model());
        var by = ok ? ctx.answeredBy() : null;
        result.put("model", by == null ? ctx.group() : by.group());
        result.put("provider", by == null ? null : by.deployment().provider());
        result.put("provider_model", by == null ? null : by.deployment().model());
        result.put("fallback", by != null && by.fallback());
        result.put("mode", ctx.mode());
        if (ok && ctx.lastAttempt() != null && ctx.lastAttempt().outcome() == Outcome.CACHE_HIT) {
            result.put("cache_hit", true); // answered by the response cache, without a provider call
        }
        ArrayNode attempts = result.putArray("attempts");
        long input = 0;
        long cached = 0;
        long output = 0;
        double cost = 0;
        for (Attempt a : ctx.attempts()) {
            ObjectNode node = attempts.addObject();
            node.put("deployment", a.deployment());
            node.put("provider", a.provider());
            node.put("provider_model", a.providerModel());
            node.put("outcome", a.outcome().wireName());
            if (a.status() == null) {
                node.putNull("status");
            } else {
                node.put("status", a.status());
            }
            node.put("latency_ms", a.latencyMs());
            input += a.usage().input();
            cached += a.usage().cachedInput();
            output += a.usage().output();
            cost += a.costUsd();
        }
        ObjectNode usage = result.putObject("usage");
        usage.put("input_tokens", input);
        usage.put("cached_input_tokens", cached);
        usage.put("output_tokens", output);
        usage.put("cost_usd", cost);
        result.put("latency_ms", ctx.elapsedMs());
        result.set("metadata", ctx.metadata());
        if (ok) {
            result.putNull("error");
        } else {
            ObjectNode err = result.putObject("error");
            err.put("type", error.type().wireName());
            err.put("message", error.message());
        }
        return result;
    }

    /** The error result of a record that is not a task but whose id is known. */
    public static ObjectNode invalid(String id, String message) {
        ObjectNode result = Json.object();
        result.put("id", id);
        result.put("status", "error");
        result.putNull("output");
        result.putArray("attempts");
        ObjectNode err = result.putObject("error");
        err.put("type", "invalid_task");
        err.put("message", message);
        return result;
    }

    public static List<byte[]> usageEvents(TaskContext ctx, String instance) {
        List<byte[]> events = new ArrayList<>();
        for (Attempt a : ctx.attempts()) {
            events.add(Json.bytes(usageEvent(ctx, a, instance)));
        }
        return events;
    }

    public static ObjectNode usageEvent(TaskContext ctx, Attempt a, String instance) {
        ObjectNode event = Json.object();
        event.put("task_id", ctx.task().id());
        event.put("attempt", a.number());
        event.put("ts", a.ts().toString());
        event.put("tier", ctx.tier());
        event.put("model", a.group());
        event.put("deployment", a.deployment());
        event.put("provider", a.provider());
        event.put("provider_model", a.providerModel());
        event.put("outcome", a.outcome().wireName());
        if (a.status() == null) {
            event.putNull("status");
        } else {
            event.put("status", a.status());
        }
        event.put("latency_ms", a.latencyMs());
        event.put("input_tokens", a.usage().input());
        event.put("cached_input_tokens", a.usage().cachedInput());
        event.put("output_tokens", a.usage().output());
        event.put("cost_usd", a.costUsd());
        event.put("fallback", a.fallback());
        event.put("mode", ctx.mode());
        // what the fleet's other instances learn from this attempt (contract section 10): never the key itself
        event.put("instance", instance);
        event.put("key_id", a.keyId());
        if (a.retryAfterMs() == null) {
            event.putNull("retry_after_ms");
        } else {
            event.put("retry_after_ms", a.retryAfterMs());
        }
        if (a.headroom() == null) {
            event.putNull("headroom");
        } else {
            ObjectNode headroom = event.putObject("headroom");
            headroom.put("requests", a.headroom().requests());
            headroom.put("tokens", a.headroom().tokens());
            headroom.put("reset_ms", a.headroom().resetMs());
        }
        // a bounded part: the event must fit on the usage topic whatever the task's metadata holds
        event.set("metadata", UsageRecords.boundedMetadata(ctx.metadata()));
        return event;
    }
}
