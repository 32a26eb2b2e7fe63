package io.caravan.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.provider.TokenUsage;
import io.caravan.task.Attempt;
import io.caravan.task.Outcome;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * The GenAI metrics' label sets are bounded: the response model is whatever the provider's answer says, so a
 * provider naming a new model in every answer must not grow the meters without end.
 */
class GenAiMetricsTest {

    static GenAiCall answered(String responseModel) {
        Attempt attempt = new Attempt(1, Instant.now(), "g", "g#0", "p", "m", Outcome.OK, 200, 40,
                new TokenUsage(10, 0, 5, 0), 0.0, false, null, null, null, false);
        Instant end = attempt.ts();
        return new GenAiCall(attempt, "p", "m", responseModel, "127.0.0.1", 8080, null, end.minusMillis(40), end,
                null, null);
    }

    @Test
    void aProviderNamingANewModelInEveryAnswerStopsAddingLabelSetsAtTheLimit() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        GenAiMetrics metrics = new GenAiMetrics(registry, null);
        int calls = GenAiMetrics.MAX_SERIES + 300;
        for (int i = 0; i < calls; i++) {
            metrics.record(answered("model-" + i));
        }

        assertThat(metrics.seriesCount()).isEqualTo(GenAiMetrics.MAX_SERIES + 1);
        assertThat(registry.find(GenAiMetrics.DURATION).summaries()).hasSize(GenAiMetrics.MAX_SERIES + 1);
        // every call is still counted: the ones past the limit under "_other"
        DistributionSummary other = registry.find(GenAiMetrics.DURATION)
                .tag("gen_ai.response.model", GenAiMetrics.OTHER_MODEL).summary();
        assertThat(other).isNotNull();
        assertThat(other.count()).isEqualTo(300);
        assertThat(registry.find(GenAiMetrics.TOKEN_USAGE).tag("gen_ai.token.type", "output").summaries()
                .stream().mapToLong(DistributionSummary::count).sum()).isEqualTo(calls);
    }

    @Test
    void aKnownLabelSetRecordsToTheSameMeters() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        GenAiMetrics metrics = new GenAiMetrics(registry, null);
        for (int i = 0; i < 3; i++) {
            metrics.record(answered("m-2025"));
        }
        assertThat(metrics.seriesCount()).isEqualTo(1);
        assertThat(registry.find(GenAiMetrics.DURATION).summary().count()).isEqualTo(3);
        assertThat(registry.find(GenAiMetrics.TOKEN_USAGE).tag("gen_ai.token.type", "input").summary().totalAmount())
                .isEqualTo(30);
    }
}
