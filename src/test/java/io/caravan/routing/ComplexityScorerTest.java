package io.caravan.routing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ArrayNode;
import io.caravan.catalog.TierSpec;
import io.caravan.util.Json;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ComplexityScorerTest {

    private final ComplexityScorer scorer = new ComplexityScorer();

    @Test
    void aOneLineQuestionScoresLowAndALongConditionalAnalysisScoresHigh() {
        double simple = scorer.features(user("What is the capital of France?")).mean();
        String table = "region,q1,q2,q3\n".repeat(1) + "north,10,12,14\nsouth,8,9,15\neast,11,11,12\n".repeat(150);
        String analysis = "Analyse and compare these results step by step. Explain why the trends differ, "
                + "evaluate the trade-offs, and if the south region falls behind, plan a strategy; otherwise "
                + "justify keeping the current design. You must consider seasonality unless data is missing.\n"
                + table;
        ArrayNode conversation = user(analysis);
        conversation.insertObject(0).put("role", "assistant").put("content", "Earlier answer");
        conversation.insertObject(0).put("role", "user").put("content", "Earlier question");
        double complex = scorer.features(conversation).mean();
        assertThat(simple).isLessThan(1.0);
        assertThat(complex).isGreaterThan(5.0);
    }

    @Test
    void eachFeatureStaysWithinZeroToTen() {
        ComplexityScorer.Features f = scorer.features(user("why ".repeat(5000) + "if ".repeat(5000)));
        for (double v : List.of(f.length(), f.dataSize(), f.conditions(), f.contextDepth(), f.reasoning())) {
            assertThat(v).isBetween(0.0, 10.0);
        }
    }

    @Test
    void agentScoreIsTheClampedMeanOfTheScores() {
        assertThat(ComplexityScorer.agentScore(Map.of("creation", 5.0, "execution", 4.0))).isEqualTo(4.5);
        assertThat(ComplexityScorer.agentScore(Map.of("creation", 30.0))).isEqualTo(10.0);
        assertThat(ComplexityScorer.agentScore(Map.of())).isNull();
    }

    @Test
    void theFirstTierWhoseMaxScoreCoversTheScoreWins() {
        List<TierSpec> tiers = List.of(new TierSpec("fast", "a", 3.0), new TierSpec("balanced", "b", 6.5),
                new TierSpec("powerful", "c", null));
        assertThat(TierRouter.tierForScore(tiers, 0).name()).isEqualTo("fast");
        assertThat(TierRouter.tierForScore(tiers, 3.0).name()).isEqualTo("fast");
        assertThat(TierRouter.tierForScore(tiers, 3.01).name()).isEqualTo("balanced");
        assertThat(TierRouter.tierForScore(tiers, 9.9).name()).isEqualTo("powerful");
    }

    private static ArrayNode user(String text) {
        ArrayNode messages = Json.array();
        messages.addObject().put("role", "user").put("content", text);
        return messages;
    }
}
