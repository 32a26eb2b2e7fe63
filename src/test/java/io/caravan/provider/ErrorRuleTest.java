package io.caravan.provider;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Redaction;
import java.util.List;
import org.junit.jupiter.api.Test;

class ErrorRuleTest {

    @Test
    void firstMatchWinsThenStatus() {
        List<ErrorRule> rules = List.of(
                ErrorRule.code("special", ErrorClass.QUOTA_EXHAUSTED, 429),
                ErrorRule.message("too long", ErrorClass.CONTEXT_WINDOW, 400));
        assertThat(ErrorRule.classify(rules, 429, List.of("SPECIAL"), "x")).isEqualTo(ErrorClass.QUOTA_EXHAUSTED);
        assertThat(ErrorRule.classify(rules, 500, List.of("special"), "x")).isEqualTo(ErrorClass.SERVER_ERROR);
        assertThat(ErrorRule.classify(rules, 400, List.of(), "Prompt TOO LONG")).isEqualTo(ErrorClass.CONTEXT_WINDOW);
        assertThat(ErrorRule.classify(rules, 400, List.of(), null)).isEqualTo(ErrorClass.BAD_REQUEST);
    }

    @Test
    void statusDefaultsFollowTheContract() {
        assertThat(ErrorRule.byStatus(401)).isEqualTo(ErrorClass.AUTH);
        assertThat(ErrorRule.byStatus(403)).isEqualTo(ErrorClass.AUTH);
        assertThat(ErrorRule.byStatus(402)).isEqualTo(ErrorClass.QUOTA_EXHAUSTED);
        assertThat(ErrorRule.byStatus(404)).isEqualTo(ErrorClass.MODEL_NOT_FOUND);
        assertThat(ErrorRule.byStatus(408)).isEqualTo(ErrorClass.TIMEOUT);
        assertThat(ErrorRule.byStatus(429)).isEqualTo(ErrorClass.RATE_LIMITED);
        assertThat(ErrorRule.byStatus(422)).isEqualTo(ErrorClass.BAD_REQUEST);
        assertThat(ErrorRule.byStatus(529)).isEqualTo(ErrorClass.SERVER_ERROR);
        assertThat(ErrorRule.byStatus(302)).isEqualTo(ErrorClass.SERVER_ERROR);
    }

    @Test
    void providerErrorTextIsRedactedOnOneLineAndCapped() {
        assertThat(new ProviderError(ErrorClass.AUTH, 401, "key sk-ant-api03-abcdefgh and Bearer xyz9\nnext")
                .getMessage()).isEqualTo("key [redacted] and Bearer [redacted] next");
        assertThat(new ProviderError(ErrorClass.AUTH, 401, "x".repeat(1000)).getMessage())
                .hasSize(ProviderError.MAX_MESSAGE + 3);
        assertThat(new ProviderError(ErrorClass.AUTH, 401, null).getMessage()).isEmpty();
    }

    @Test
    void aKeyCutByTheLookedAtWindowLeavesNoHalf() {
        // a key of no known shape, cut by the window: half of it would no longer match, and whitespace padding
        // collapses, so the half would land inside the capped message
        Object owner = new Object();
        String key = "purple.monkey.dishwasher.horse";
        Redaction.track(owner, List.of(key));
        try {
            String text = "bad key" + " ".repeat(ProviderError.MAX_TEXT - 7 - 10) + key;
            String message = new ProviderError(ErrorClass.AUTH, 401, text).getMessage();
            assertThat(message).isEqualTo("bad key");
        } finally {
            Redaction.track(owner, List.of());
        }
    }
}
