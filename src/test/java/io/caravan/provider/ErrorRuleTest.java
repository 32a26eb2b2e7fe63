package io.caravan.provider;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.resilience.ErrorClass;
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
    void safeTextRedactsKeysAndCaps() {
        assertThat(AdapterSupport.safe("key sk-ant-api03-abcdefgh and Bearer xyz\nnext"))
                .isEqualTo("key [redacted] and [redacted] next");
        assertThat(AdapterSupport.safe("x".repeat(1000))).hasSize(AdapterSupport.MAX_MESSAGE + 3);
        assertThat(AdapterSupport.safe(null)).isEmpty();
    }
}
