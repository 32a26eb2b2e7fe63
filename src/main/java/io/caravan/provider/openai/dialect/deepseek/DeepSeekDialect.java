package io.caravan.provider.openai.dialect.deepseek;

import static io.caravan.provider.ErrorRule.message;
import static io.caravan.resilience.ErrorClass.QUOTA_EXHAUSTED;

import io.caravan.provider.ErrorRule;
import io.caravan.provider.openai.Dialect;
import io.caravan.provider.openai.OpenAiAdapter;
import java.util.List;
import java.util.Set;

/**
 * DeepSeek ({@code https://api.deepseek.com/v1}), {@code api: deepseek} or {@code api: openai} at that host: cache
 * hits in {@code usage.prompt_cache_hit_tokens} ({@code prompt_tokens} = hit + miss); 402 "Insufficient Balance"
 * is {@code quota_exhausted} (it sometimes comes as 400/403 too); 422 is an invalid parameter
 * ({@code bad_request}); 503 "Server overloaded" a server error.
 */
public final class DeepSeekDialect extends OpenAiAdapter {

    static final List<ErrorRule> RULES = List.of(
            message("insufficient balance", QUOTA_EXHAUSTED, 400, 402, 403));

    public DeepSeekDialect() {
        super(new Dialect("deepseek", "https://api.deepseek.com/v1", Set.of("api.deepseek.com"), RULES,
                "prompt_cache_hit_tokens"));
    }
}
