package io.caravan.shaping;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static io.caravan.shaping.Shaping.ok;
import static io.caravan.shaping.Shaping.okTask;
import static io.caravan.shaping.Shaping.outcomes;
import static io.caravan.shaping.Shaping.path;
import static io.caravan.shaping.Shaping.provider;
import static io.caravan.shaping.Shaping.received;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Progressive escalation: the cheapest tier first, one tier up each time a quality gate fails. */
class EscalationTest {

    static WireMockServer upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        // the fast tier answers prose where JSON was asked for; balanced answers JSON
        upstream.stubFor(post(urlEqualTo(path("cheap"))).willReturn(ok("Sure! Here it is: name is Ada", 1000, 1000)));
        upstream.stubFor(post(urlEqualTo(path("mid"))).willReturn(ok("{\\\"name\\\": \\\"Ada\\\"}", 1000, 1000)));
        upstream.stubFor(post(urlEqualTo(path("top"))).willReturn(ok("{\\\"name\\\": \\\"Ada\\\"}", 1000, 1000)));
        String catalog = "providers:\n"
                + provider(upstream, "cheap", "\"k\"", "")
                + provider(upstream, "mid", "\"k\"", "")
                + provider(upstream, "top", "\"k\"", "")
                + """
                models:
                  - {name: small, provider: cheap, model: s, price: {input: 1, output: 1}}
                  - {name: medium, provider: mid, model: m, price: {input: 10, output: 10}}
                  - {name: large, provider: top, model: l, price: {input: 100, output: 100}}
                tiers:
                  fast: {model: small, max_score: 3}
                  balanced: {model: medium, max_score: 6.5}
                  powerful: {model: large}
                default_tier: balanced
                escalation:
                  tiers: [fast, balanced, powerful]
                  gates: {json: true}
                """;
        caravan = Caravan.start(catalog, Map.of(), Map.of());
    }

    @AfterAll
    static void stop() throws Exception {
        if (caravan != null) {
            caravan.close();
        }
        if (upstream != null) {
            upstream.stop();
        }
    }

    @Test
    void aFastAnswerFailingTheJsonGateEscalatesToBalancedAndBothCostsCount() throws Exception {
        JsonNode result = okTask(caravan, "{\"prompt\":\"Give me the name as JSON\","
                + "\"params\":{\"response_format\":{\"type\":\"json_object\"}}}");

        assertThat(outcomes(result)).containsExactly("small#0 escalated", "medium#0 ok");
        assertThat(result.path("tier").asText()).isEqualTo("balanced");
        assertThat(result.path("model").asText()).isEqualTo("medium");
        assertThat(result.path("output").path("content").asText()).isEqualTo("{\"name\": \"Ada\"}");
        assertThat(result.path("routing_reason").asText()).contains("escalated from fast").contains("not valid JSON");
        // 2000 tokens at $1/M on small plus 2000 tokens at $10/M on medium
        assertThat(result.path("usage").path("cost_usd").asDouble()).isCloseTo(0.002 + 0.02, within(1e-9));
        assertThat(result.path("usage").path("input_tokens").asLong()).isEqualTo(2000);
        assertThat(received(upstream, "top")).isEmpty();
    }

    @Test
    void anAnswerPassingTheGatesStaysOnTheCheapestTier() throws Exception {
        // no JSON asked for: the json gate does not apply, the fast answer stands
        JsonNode result = okTask(caravan, "{\"prompt\":\"Tell me the name\"}");
        assertThat(outcomes(result)).containsExactly("small#0 ok");
        assertThat(result.path("tier").asText()).isEqualTo("fast");
    }

    @Test
    void aTaskNamingAGroupIsNeverEscalated() throws Exception {
        JsonNode result = okTask(caravan, "{\"model\":\"small\",\"prompt\":\"JSON please\","
                + "\"params\":{\"response_format\":{\"type\":\"json_object\"}}}");
        assertThat(outcomes(result)).containsExactly("small#0 ok");
        assertThat(List.of(result.path("model").asText())).containsExactly("small");
    }
}
