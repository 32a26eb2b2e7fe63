package io.caravan.provider.openai.dialect.mistral;

import static io.caravan.provider.ErrorRule.code;
import static io.caravan.provider.ErrorRule.message;
import static io.caravan.resilience.ErrorClass.CONTEXT_WINDOW;
import static io.caravan.resilience.ErrorClass.MODEL_NOT_FOUND;
import static io.caravan.resilience.ErrorClass.RATE_LIMITED;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.provider.ErrorRule;
import io.caravan.provider.openai.Dialect;
import io.caravan.provider.openai.OpenAiAdapter;
import java.util.List;
import java.util.Set;

/**
 * Mistral La Plateforme ({@code https://api.mistral.ai/v1}), {@code api: mistral} or {@code api: openai} at that
 * host. Parameters: {@code seed} is {@code random_seed}, {@code max_completion_tokens} is {@code max_tokens}, and
 * {@code stream_options} is refused (Mistral rejects unknown fields with a 422; its streams carry usage in the last
 * chunk unasked). Errors: an over-long prompt is a 400 "Prompt contains N tokens ... too large for model with M
 * maximum context length"; {@code service_tier_capacity_exceeded} (429) is a rate limit; {@code invalid_model}
 * (an unknown model name) is {@code model_not_found}, so the next deployment is tried; a 422 (unknown or bad
 * field, its {@code message} an object of pydantic details) is a bad request.
 */
public final class MistralDialect extends OpenAiAdapter {

    static final List<ErrorRule> RULES = List.of(
            message("too large for model with \\d+ maximum context length", CONTEXT_WINDOW, 400),
            code("service_tier_capacity_exceeded", RATE_LIMITED),
            code("invalid_model", MODEL_NOT_FOUND, 400, 404));             // "Invalid model: NAME"

    public MistralDialect() {
        super(new Dialect("mistral", "https://api.mistral.ai/v1", Set.of("api.mistral.ai"), RULES, null));
    }

    @Override
    protected void adaptBody(ObjectNode body, boolean streaming) {
        rename(body, "seed", "random_seed");
        rename(body, "max_completion_tokens", "max_tokens");
        body.remove("stream_options");
    }

    private static void rename(ObjectNode body, String from, String to) {
        JsonNode value = body.remove(from);
        if (value != null && !body.has(to)) {
            body.set(to, value);
        }
    }
}
