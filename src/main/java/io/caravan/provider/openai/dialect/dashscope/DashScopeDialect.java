package io.caravan.provider.openai.dialect.dashscope;

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
 * Qwen on Alibaba DashScope compatible mode ({@code https://dashscope-intl.aliyuncs.com/compatible-mode/v1}, China
 * {@code https://dashscope.aliyuncs.com/compatible-mode/v1}), {@code api: dashscope} or {@code api: openai} at those
 * hosts: OpenAI shapes with DashScope error codes. {@code Arrearage} (account overdue) is {@code quota_exhausted};
 * {@code Throttling.RateQuota} / {@code Throttling.AllocationQuota} are per-minute rate limits even though their
 * text says "quota"; an over-long prompt is a 400 "Range of input length should be [1, N]". Cached tokens in
 * {@code prompt_tokens_details.cached_tokens}.
 */
public final class DashScopeDialect extends OpenAiAdapter {

    static final List<ErrorRule> RULES = List.of(
            // per-minute limits whose wording mentions "quota": rate limits, not a spent account
            code("Throttling.RateQuota", RATE_LIMITED),
            code("Throttling.AllocationQuota", RATE_LIMITED),
            code("Throttling.FreeTierOnly", QUOTA_EXHAUSTED),             // free quota used up
            code("Throttling", RATE_LIMITED),
            code("Arrearage", QUOTA_EXHAUSTED),                           // 400: account overdue
            code("InvalidApiKey", AUTH),                                  // 401
            message("range of input length|input length should be", CONTEXT_WINDOW, 400));

    public DashScopeDialect() {
        super(new Dialect("dashscope", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
                Set.of("dashscope-intl.aliyuncs.com", "dashscope.aliyuncs.com"), RULES, null));
    }
}
