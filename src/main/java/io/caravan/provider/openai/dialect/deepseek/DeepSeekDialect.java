package io.caravan.provider.openai.dialect.deepseek;

import static io.caravan.provider.ErrorRule.message;
import static io.caravan.resilience.ErrorClass.QUOTA_EXHAUSTED;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.ErrorRule;
import io.caravan.provider.TokenUsage;
import io.caravan.provider.openai.OpenAiAdapter;
import io.caravan.util.Json;
import java.util.List;
import java.util.Set;

/**
 * DeepSeek ({@code https://api.deepseek.com/v1}), {@code api: deepseek} or {@code api: openai} at that host: cache
 * hits in {@code usage.prompt_cache_hit_tokens} ({@code prompt_tokens} = hit + miss); 402 "Insufficient Balance"
 * is {@code quota_exhausted} (it sometimes comes as 400/403 too); 422 is an invalid parameter
 * ({@code bad_request}); 503 "Server overloaded" a server error.
 */
public class DeepSeekDialect extends OpenAiAdapter {

    static final List<ErrorRule> RULES = List.of(
            message("insufficient balance", QUOTA_EXHAUSTED, 400, 402, 403));

    @Override
    public String api() {
        return "deepseek";
    }

    @Override
    public String defaultBaseUrl(ProviderSpec provider) {
        return "https://api.deepseek.com/v1";
    }

    @Override
    protected Set<String> hosts() {
        return Set.of("api.deepseek.com");
    }

    @Override
    protected List<ErrorRule> dialectRules() {
        return RULES;
    }

    @Override
    protected TokenUsage usage(JsonNode usage) {
        return openAiUsage(usage, Json.longOr(usage, "prompt_cache_hit_tokens", -1));
    }
}
