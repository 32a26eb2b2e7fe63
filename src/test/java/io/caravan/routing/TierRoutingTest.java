package io.caravan.routing;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The tier router seen through POST /v1/tasks: which tier, which group, which upstream, and why. */
class TierRoutingTest {

    static WireMockServer upstream;
    static Caravan caravan;

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        for (String tier : new String[] {"fast", "balanced", "powerful"}) {
            upstream.stubFor(post(urlEqualTo("/" + tier + "/v1/chat/completions"))
                    .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                            .withBody(Upstreams.completion("from " + tier, 10, 0, 5))));
        }
        String catalog = """
                providers:
                  pfast:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/fast/v1
                    api_keys: ["k-fast"]
                    timeout: 2s
                    retries: 0
                  pbal:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/balanced/v1
                    api_keys: ["k-bal"]
                    timeout: 2s
                    retries: 0
                  ppow:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/powerful/v1
                    api_keys: ["k-pow"]
                    timeout: 2s
                    retries: 0
                models:
                  - name: g-fast
                    provider: pfast
                    model: fast-model
                    price: {input: 0.1, output: 0.2}
                  - name: g-bal
                    provider: pbal
                    model: bal-model
                    price: {input: 1, output: 2}
                  - name: g-pow
                    provider: ppow
                    model: pow-model
                    price: {input: 10, output: 20}
                tiers:
                  fast:     {model: g-fast, max_score: 3.0}
                  balanced: {model: g-bal,  max_score: 6.0}
                  powerful: {model: g-pow}
                default_tier: balanced
                routing:
                  keywords:
                    powerful: [strategic]
                    fast: [quick]
                  score_weights: {agent: 0.8, task: 0.2}
                """.formatted(upstream.port());
        caravan = Caravan.start(catalog);
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

    static JsonNode send(String task, int expectedStatus) throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks", task);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(expectedStatus);
        return Json.MAPPER.readTree(response.body());
    }

    static void assertAnsweredBy(JsonNode result, String tier, String group) {
        assertThat(result.path("status").asText()).as(result.toString()).isEqualTo("ok");
        assertThat(result.path("tier").asText()).isEqualTo(tier);
        assertThat(result.path("model").asText()).isEqualTo(group);
        assertThat(result.path("output").path("content").asText()).isEqualTo("from " + tier);
        assertThat(result.path("fallback").asBoolean()).isFalse();
        assertThat(result.path("attempts")).hasSize(1);
        assertThat(result.path("attempts").get(0).path("outcome").asText()).isEqualTo("ok");
    }

    @Test
    void explicitTierWinsOverTierAliasKeywordsAndScores() throws Exception {
        JsonNode result = send("""
                {"tier":"powerful","model":"tier:fast","prompt":"a quick one",
                 "scores":{"creation":0,"execution":0}}""", 200);
        assertAnsweredBy(result, "powerful", "g-pow");
        assertThat(result.path("routing_reason").asText()).isEqualTo("tier powerful requested");
        assertThat(result.path("requested_model").asText()).isEqualTo("tier:fast");
    }

    @Test
    void tierAliasWinsOverKeywordsAndScores() throws Exception {
        JsonNode result = send("""
                {"model":"tier:fast","prompt":"a strategic question","scores":{"creation":10,"execution":10}}""", 200);
        assertAnsweredBy(result, "fast", "g-fast");
        assertThat(result.path("routing_reason").asText()).isEqualTo("model tier:fast requested");
    }

    @Test
    void groupWinsOverKeywordsAndScoresAndIsRecordedAsTheModel() throws Exception {
        JsonNode result = send("""
                {"model":"g-bal","prompt":"a quick strategic one","scores":{"creation":10,"execution":10}}""", 200);
        assertAnsweredBy(result, "balanced", "g-bal");
        assertThat(result.path("requested_model").asText()).isEqualTo("g-bal");
        assertThat(result.path("routing_reason").asText()).isEqualTo("model g-bal requested");
    }

    @Test
    void keywordsWinOverTheScore() throws Exception {
        JsonNode result = send("""
                {"prompt":"Give me a quick answer","scores":{"creation":10,"execution":10}}""", 200);
        assertAnsweredBy(result, "fast", "g-fast");
        assertThat(result.path("routing_reason").asText()).isEqualTo("keyword 'quick' -> fast");

        JsonNode strategic = send("""
                {"prompt":"Our Strategic outlook","scores":{"creation":0,"execution":0}}""", 200);
        assertAnsweredBy(strategic, "powerful", "g-pow");
        assertThat(strategic.path("routing_reason").asText()).isEqualTo("keyword 'strategic' -> powerful");
    }

    @Test
    void highAgentScoresGoPowerfulLowOnesFastMiddleOnesBalanced() throws Exception {
        JsonNode high = send("""
                {"prompt":"Say hello","scores":{"creation":10,"execution":10}}""", 200);
        assertAnsweredBy(high, "powerful", "g-pow");
        assertThat(high.path("routing_reason").asText()).isEqualTo("score 8.0 (agent 10.0, task 0.0) -> powerful");

        JsonNode low = send("""
                {"prompt":"Say hello","scores":{"creation":1,"execution":1}}""", 200);
        assertAnsweredBy(low, "fast", "g-fast");
        assertThat(low.path("routing_reason").asText()).isEqualTo("score 0.8 (agent 1.0, task 0.0) -> fast");

        JsonNode middle = send("""
                {"prompt":"Say hello","scores":{"creation":4,"execution":6}}""", 200);
        assertAnsweredBy(middle, "balanced", "g-bal");
        assertThat(middle.path("routing_reason").asText()).matches("score 4\\.0 \\(agent 5\\.0, task 0\\.0\\) -> balanced");
        assertThat(middle.path("requested_model").asText()).isEqualTo("auto");
    }

    @Test
    void withoutAgentScoresTheTaskFeaturesAloneDecide() throws Exception {
        JsonNode simple = send("{\"prompt\":\"Say hello\"}", 200);
        assertAnsweredBy(simple, "fast", "g-fast");
        assertThat(simple.path("routing_reason").asText()).isEqualTo("score 0.0 (task 0.0) -> fast");

        // 7 condition words (10) and 5 reasoning words (10): mean about 4 -> balanced
        String prompt = "Explain why, compare, evaluate and assess the options: if A then B, unless C, "
                + "when D, otherwise E; it must hold and should hold, except on Sundays.";
        JsonNode involved = send("{\"prompt\":\"" + prompt + "\"}", 200);
        assertAnsweredBy(involved, "balanced", "g-bal");
        assertThat(involved.path("routing_reason").asText())
                .matches("score 4\\.\\d \\(task 4\\.\\d\\) -> balanced")
                .doesNotContain("agent");
    }

    @Test
    void unknownTiersAndGroupsAreInvalidTasks() throws Exception {
        int before = upstream.getAllServeEvents().size();
        for (String task : new String[] {
                "{\"tier\":\"legendary\",\"prompt\":\"hi\"}",
                "{\"model\":\"tier:legendary\",\"prompt\":\"hi\"}",
                "{\"model\":\"no-such-group\",\"prompt\":\"hi\"}"}) {
            HttpResponse<String> response = caravan.post("/v1/tasks", task);
            assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
            JsonNode body = Json.MAPPER.readTree(response.body());
            // a parsed task that cannot be placed gets its result, with the error type of the contract
            assertThat(body.path("status").asText()).as(response.body()).isEqualTo("error");
            assertThat(body.path("error").path("type").asText()).isEqualTo("invalid_task");
            assertThat(body.path("attempts")).isEmpty();
        }
        assertThat(upstream.getAllServeEvents()).hasSize(before);
    }
}
