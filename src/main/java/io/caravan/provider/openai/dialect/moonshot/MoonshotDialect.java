package io.caravan.provider.openai.dialect.moonshot;

import static io.caravan.provider.ErrorRule.code;
import static io.caravan.provider.ErrorRule.message;
import static io.caravan.resilience.ErrorClass.AUTH;
import static io.caravan.resilience.ErrorClass.CONTEXT_WINDOW;
import static io.caravan.resilience.ErrorClass.QUOTA_EXHAUSTED;
import static io.caravan.resilience.ErrorClass.RATE_LIMITED;

import io.caravan.provider.ErrorRule;
import io.caravan.provider.openai.Dialect;
import io.caravan.provider.openai.OpenAiAdapter;
import java.util.List;
import java.util.Set;

/**
 * Moonshot / Kimi ({@code https://api.moonshot.ai/v1}, China {@code https://api.moonshot.cn/v1}), {@code api:
 * moonshot} or {@code api: openai} at those hosts. Errors carry their kind in {@code error.type}:
 * {@code exceeded_current_quota_error} (429, account out of balance or suspended) is {@code quota_exhausted};
 * {@code rate_limit_reached_error} and {@code engine_overloaded_error} (429) are rate limits; an over-long prompt
 * is a 400 {@code invalid_request_error} saying "exceeded model token limit". Cached tokens come either in
 * {@code usage.cached_tokens} (context caching) or in {@code prompt_tokens_details.cached_tokens}. Moonshot's
 * default {@code max_tokens} is small; set it in params or the task when answers are long.
 */
public final class MoonshotDialect extends OpenAiAdapter {

    static final List<ErrorRule> RULES = List.of(
            code("rate_limit_reached_error", RATE_LIMITED),
            code("engine_overloaded_error", RATE_LIMITED),
            code("exceeded_current_quota_error", QUOTA_EXHAUSTED),
            code("invalid_authentication_error", AUTH),                   // 401
            message("exceeded model token limit", CONTEXT_WINDOW, 400));

    public MoonshotDialect() {
        super(new Dialect("moonshot", "https://api.moonshot.ai/v1", Set.of("api.moonshot.ai", "api.moonshot.cn"),
                RULES, "cached_tokens"));
    }
}
