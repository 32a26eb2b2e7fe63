package io.caravan.outlet;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.resilience.ErrorClass;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;

/**
 * OpenAI's wire shapes of Caravan's errors, in one place for every door that speaks OpenAI: the HTTP front door
 * ({@code /v1/chat/completions}), its stream writer's error event and {@code caravan batch}. The status and error
 * type of each class come from the error table ({@link io.caravan.resilience.ErrorPolicy}), so the same failure
 * reads the same on every door.
 */
public final class OpenAiWire {

    private OpenAiWire() {}

    /** OpenAI's error body: {@code {"error": {"message", "type", "code", "param": null}}}. */
    public static ObjectNode errorBody(String message, String type, String code) {
        ObjectNode root = Json.object();
        ObjectNode error = root.putObject("error");
        error.put("message", message);
        error.put("type", type);
        error.put("code", code);
        error.putNull("param");
        return root;
    }

    /** The error body of a Caravan error class; {@code code} is the class's wire name. */
    public static ObjectNode error(ErrorClass type, String message) {
        return errorBody(message, type.policy().openAiType(), type.wireName());
    }

    /**
     * The HTTP status of a failed task: the error table's, except that a chain exhausted only by rate limits and
     * quotas answers 429 (the caller may back off and retry) instead of 503.
     */
    public static int status(TaskContext ctx, ErrorClass type) {
        if (type == ErrorClass.EXHAUSTED) {
            boolean allRateLimited = ctx.attemptCount() > 0 && ctx.attempts().stream()
                    .allMatch(a -> a.outcome().is(ErrorClass.RATE_LIMITED) || a.outcome().is(ErrorClass.QUOTA_EXHAUSTED));
            if (allRateLimited) {
                return 429;
            }
        }
        return type.policy().httpStatus();
    }
}
