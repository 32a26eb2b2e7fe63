package io.caravan.resilience;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.catalog.ProviderSpec;
import io.caravan.util.Redaction;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a key pool hands to the redaction step: keys, secret headers and settings, base URL credentials. */
class KeyPoolSecretsTest {

    static ProviderSpec provider(String name, List<String> keys) {
        return new ProviderSpec(name, "openai",
                "https://gw:pw.plain.words@gateway.example/v1?api-key=query.plain.words", keys,
                Map.of("Authorization", "Bearer header.plain.words", "X-Title", "MyApplication.v1"),
                ProviderSpec.DEFAULT_TIMEOUT, 0, ProviderSpec.DEFAULT_BACKOFF, null, null,
                Map.of("auth_token", "setting.plain.words", "region", "eu.west.central"));
    }

    @Test
    void everySecretOfTheLoadedProvidersIsRedactedAndOnlyThose() {
        KeyPool pool = new KeyPool();
        pool.load(Map.of("p", provider("p", List.of("k1", "key.plain.words"))));
        String text = "k1 key.plain.words pw.plain.words query.plain.words header.plain.words setting.plain.words "
                + "MyApplication.v1 eu.west.central";
        assertThat(Redaction.redact(text)).isEqualTo("[redacted] ".repeat(6) + "MyApplication.v1 eu.west.central");

        // a reload that changes the key: the new one is redacted, the old one no longer tracked
        pool.load(Map.of("p", provider("p", List.of("next.plain.words"))));
        assertThat(Redaction.redact("key.plain.words next.plain.words")).isEqualTo("key.plain.words [redacted]");

        pool.forget();
        assertThat(Redaction.redact("next.plain.words")).isEqualTo("next.plain.words");
    }
}
