package io.caravan.provider.openai;

import io.caravan.provider.ErrorRule;
import java.util.List;
import java.util.Set;

/**
 * What a vendor that copies the OpenAI API does differently, declared: its api name, default base URL, the hosts
 * that speak it under {@code api: openai}, its own error rules (tried before OpenAI's) and the usage field that
 * holds its cached prompt tokens when {@code prompt_tokens_details.cached_tokens} is missing.
 *
 * @param defaultBaseUrl null when the catalog must give a {@code base_url}
 * @param cachedTokensField a field of {@code usage}, or null when the vendor has none of its own
 */
public record Dialect(String api, String defaultBaseUrl, Set<String> hosts, List<ErrorRule> rules,
        String cachedTokensField) {

    public Dialect {
        hosts = Set.copyOf(hosts);
        rules = List.copyOf(rules);
    }
}
