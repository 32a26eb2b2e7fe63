package io.caravan.provider;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** The providers' rate-limit headers, as they send them, read into the usage event's headroom. */
class HeadroomTest {

    static final Instant NOW = Instant.parse("2026-11-28T22:00:00Z");

    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
            // OpenAI: remaining requests, remaining tokens, the two resets (Go durations)
            "59,      149984,  1s,     6m0s,  360000",
            "0,       0,       20ms,   1ms,   20",
            "499,     null,    1m30s,  null,  90000",
            "null,    30000,   null,   2.5s,  2500",
            "7,       null,    null,   null,  null",
            "12,      900,     1h2m3.5s, 0s,  3723500",
    })
    void openAiHeaders(String requests, String tokens, String resetRequests, String resetTokens, Long resetMs) {
        Map<String, Object> headers = new HashMap<>();
        put(headers, "x-ratelimit-remaining-requests", requests);
        put(headers, "X-RateLimit-Remaining-Tokens", tokens);
        put(headers, "x-ratelimit-reset-requests", resetRequests);
        put(headers, "x-ratelimit-reset-tokens", resetTokens);
        Headroom h = Headroom.read("openai", headers, NOW);
        assertThat(h.requests()).isEqualTo(requests == null ? null : Long.valueOf(requests));
        assertThat(h.tokens()).isEqualTo(tokens == null ? null : Long.valueOf(tokens));
        assertThat(h.resetMs()).isEqualTo(resetMs);
    }

    @ParameterizedTest
    @CsvSource(nullValues = "null", value = {
            "49,   39000,  2026-11-28T22:00:01Z,       2026-11-28T22:00:06Z,   6000",
            "0,    null,   2026-11-28T22:00:00.250Z,   null,                   250",
            "3,    100,    2026-11-28T21:59:00Z,       2026-11-28T23:00:00+01:00, 0",
    })
    void anthropicHeaders(String requests, String tokens, String resetRequests, String resetTokens, Long resetMs) {
        Map<String, Object> headers = new HashMap<>();
        put(headers, "anthropic-ratelimit-requests-remaining", requests);
        put(headers, "anthropic-ratelimit-tokens-remaining", tokens);
        put(headers, "anthropic-ratelimit-requests-reset", resetRequests);
        put(headers, "anthropic-ratelimit-tokens-reset", resetTokens);
        put(headers, "anthropic-ratelimit-requests-limit", "50"); // not part of the headroom
        Headroom h = Headroom.read("anthropic", headers, NOW);
        assertThat(h.requests()).isEqualTo(Long.valueOf(requests));
        assertThat(h.tokens()).isEqualTo(tokens == null ? null : Long.valueOf(tokens));
        assertThat(h.resetMs()).isEqualTo(resetMs);
    }

    @ParameterizedTest
    @CsvSource({"6m0s, 360000", "20ms, 20", "1s, 1000", "0.5s, 500", "1m, 60000", "100us, 0"})
    void goDurations(String text, long millis) {
        assertThat(Headroom.duration(text).toMillis()).isEqualTo(millis);
    }

    @ParameterizedTest
    @CsvSource({"soon", "1x", "-1s", "s", "1s garbage"})
    void unreadableDurationsAreNull(String text) {
        assertThat(Headroom.duration(text)).isNull();
    }

    @Test
    void noHeadersOrAnApiWithoutThemGiveNull() {
        assertThat(Headroom.read("openai", Map.of("content-type", "application/json"), NOW)).isNull();
        assertThat(Headroom.read("gemini", Map.of("x-ratelimit-remaining-requests", "5"), NOW)).isNull();
        // Camel hands multi-valued headers over as lists; a nonsense count is left out, not guessed
        Headroom h = Headroom.read("openai", Map.of("x-ratelimit-remaining-requests", List.of("5"),
                "x-ratelimit-remaining-tokens", "lots"), NOW);
        assertThat(h).isEqualTo(new Headroom(5L, null, null));
    }

    private static void put(Map<String, Object> headers, String name, String value) {
        if (value != null) {
            headers.put(name, value);
        }
    }
}
