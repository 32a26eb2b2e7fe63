package io.caravan.dispatch;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Failover as a user sees it: each scenario has groups and providers of its own (so keys, breakers and round-robin
 * counters never mix), each provider its own WireMock path prefix.
 */
class FailoverTest {

    static WireMockServer upstream;
    static Caravan caravan;




    static void stub(String provider, ResponseDefinitionBuilder response) {
        upstream.stubFor(post(urlEqualTo(Upstreams.path(provider))).willReturn(response));
    }

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        stub("rescue", Upstreams.ok("rescued"));
        stub("rescue2", Upstreams.ok("should not be called"));
        stub("wa", Upstreams.status(503, Upstreams.error("overloaded", "server_error", null)));
        stub("wb", Upstreams.ok("from wb"));
        stub("rl", Upstreams.status(429, Upstreams.error("Rate limit reached", "rate_limit_error", null)).withHeader("Retry-After", "1"));
        stub("quota", Upstreams.status(402, "{\"error\":{\"message\":\"Insufficient Balance\",\"type\":\"unknown_error\"}}"));
        stub("auth", Upstreams.status(401, Upstreams.error("Invalid API key", "invalid_request_error", "invalid_api_key")));
        stub("bad", Upstreams.status(400, Upstreams.error("Invalid request: bad tool schema", "invalid_request_error", null)));
        stub("five", Upstreams.status(500, Upstreams.error("internal", "server_error", null)));
        stub("slow", Upstreams.ok("too late").withFixedDelay(1500));
        stub("reset", aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER));
        stub("garbled", aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("{\"choices\": [ oops"));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("keys"))).withHeader("Authorization", equalTo("Bearer key-one"))
                .willReturn(Upstreams.status(429, Upstreams.error("Rate limit reached", "rate_limit_error", null))));
        upstream.stubFor(post(urlEqualTo(Upstreams.path("keys"))).withHeader("Authorization", equalTo("Bearer key-two"))
                .willReturn(Upstreams.ok("from key two")));
        stub("deada", Upstreams.status(401, Upstreams.error("Invalid API key", "invalid_request_error", null)));
        stub("deadb", Upstreams.status(503, Upstreams.error("overloaded", "server_error", null)));

        StringBuilder providers = new StringBuilder("providers:\n");
        provider(providers, "rescue", 0, "2s", "\"k\"");
        provider(providers, "rescue2", 0, "2s", "\"k\"");
        provider(providers, "wa", 1, "2s", "\"k\"");
        provider(providers, "wb", 0, "2s", "\"k\"");
        provider(providers, "rl", 1, "5s", "\"k\"");
        provider(providers, "quota", 2, "2s", "\"k\"");
        provider(providers, "auth", 2, "2s", "\"k\"");
        provider(providers, "bad", 2, "2s", "\"k\"");
        provider(providers, "five", 2, "2s", "\"k\"");
        provider(providers, "slow", 0, "1s", "\"k\"");
        provider(providers, "reset", 0, "2s", "\"k\"");
        provider(providers, "garbled", 0, "2s", "\"k\"");
        provider(providers, "keys", 1, "2s", "\"key-one\", \"key-two\"");
        provider(providers, "deada", 0, "2s", "\"k\"");
        provider(providers, "deadb", 0, "2s", "\"k\"");
        String catalog = providers + """
                models:
                  - {name: rescue, provider: rescue, model: rescue-m, price: {input: 1, output: 1}}
                  - {name: rescue2, provider: rescue2, model: rescue2-m, price: {input: 1, output: 1}}
                  - {name: wg, provider: wa, model: wa-m, weight: 3, price: {input: 1, output: 1}}
                  - {name: wg, provider: wb, model: wb-m, weight: 1, price: {input: 1, output: 1}}
                  - {name: rl, provider: rl, model: rl-m, price: {input: 1, output: 1}}
                  - {name: rlb, provider: rescue, model: rescue-m, price: {input: 1, output: 1}}
                  - {name: quota, provider: quota, model: q-m, price: {input: 1, output: 1}}
                  - {name: auth, provider: auth, model: a-m, price: {input: 1, output: 1}}
                  - {name: bad, provider: bad, model: b-m, price: {input: 1, output: 1}}
                  - {name: five, provider: five, model: f-m, price: {input: 1, output: 1}}
                  - {name: slow, provider: slow, model: s-m, price: {input: 1, output: 1}}
                  - {name: reset, provider: reset, model: r-m, price: {input: 1, output: 1}}
                  - {name: garbled, provider: garbled, model: g-m, price: {input: 1, output: 1}}
                  - {name: keys, provider: keys, model: k-m, price: {input: 1, output: 1}}
                  - {name: deada, provider: deada, model: da-m, price: {input: 1, output: 1}}
                  - {name: deadb, provider: deadb, model: db-m, price: {input: 1, output: 1}}
                fallbacks:
                  rl: [rlb]
                  quota: [rescue]
                  auth: [rescue]
                  bad: [rescue2]
                  five: [rescue]
                  slow: [rescue]
                  reset: [rescue]
                  garbled: [rescue]
                  deada: [deadb]
                tiers:
                  balanced: {model: rescue}
                default_tier: balanced
                """;
        caravan = Caravan.start(catalog, Map.of(), Map.of());
    }

    static void provider(StringBuilder into, String name, int retries, String timeout, String keys) {
        into.append("""
                  %1$s:
                    api: openai
                    base_url: http://127.0.0.1:%2$d/%1$s/v1
                    api_keys: [%3$s]
                    timeout: %4$s
                    retries: %5$d
                    backoff: 50ms
                """.formatted(name, upstream.port(), keys, timeout, retries));
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

    static JsonNode send(String id, String group, int expectedStatus) throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks",
                "{\"id\":\"" + id + "\",\"model\":\"" + group + "\",\"prompt\":\"hello\",\"timeout_ms\":20000}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(expectedStatus);
        return Json.MAPPER.readTree(response.body());
    }

    /** [deployment, outcome, status] of each attempt; status null when no HTTP status came back. */
    static List<org.assertj.core.groups.Tuple> attempts(JsonNode result) {
        List<org.assertj.core.groups.Tuple> out = new ArrayList<>();
        for (JsonNode a : result.path("attempts")) {
            out.add(tuple(a.path("deployment").asText(), a.path("outcome").asText(),
                    a.path("status").isNull() || a.path("status").isMissingNode() ? null : a.path("status").asInt()));
        }
        return out;
    }

    static List<LoggedRequest> received(String provider) {
        return upstream.findAll(postRequestedFor(urlEqualTo(Upstreams.path(provider))));
    }

    static void assertRescued(JsonNode result, String group) {
        assertThat(result.path("status").asText()).as(result.toString()).isEqualTo("ok");
        assertThat(result.path("model").asText()).isEqualTo(group);
        assertThat(result.path("fallback").asBoolean()).isTrue();
        assertThat(result.path("requested_model").asText()).isNotEqualTo(group);
    }

    @Test
    void aFailingDeploymentFailsOverToTheNextOfItsGroupAfterItsRetries() throws Exception {
        JsonNode result = send("wg-1", "wg", 200);
        assertThat(attempts(result)).containsExactly(
                tuple("wg#0", "server_error", 503),
                tuple("wg#0", "server_error", 503),
                tuple("wg#1", "ok", 200));
        assertThat(result.path("output").path("content").asText()).isEqualTo("from wb");
        assertThat(result.path("model").asText()).isEqualTo("wg");
        assertThat(result.path("provider").asText()).isEqualTo("wb");
        assertThat(received("wa")).hasSize(2);
        assertThat(received("wb")).hasSize(1);
    }

    @Test
    void aRateLimitHonoursRetryAfterThenFallsBackToTheNextGroup() throws Exception {
        JsonNode result = send("rl-1", "rl", 200);
        assertThat(attempts(result)).containsExactly(
                tuple("rl#0", "rate_limited", 429),
                tuple("rl#0", "rate_limited", 429),
                tuple("rlb#0", "ok", 200));
        assertRescued(result, "rlb");
        assertThat(result.path("output").path("content").asText()).isEqualTo("rescued");
        List<LoggedRequest> calls = new ArrayList<>(received("rl"));
        assertThat(calls).hasSize(2);
        calls.sort(Comparator.comparing(LoggedRequest::getLoggedDate));
        long gap = calls.get(1).getLoggedDate().getTime() - calls.get(0).getLoggedDate().getTime();
        assertThat(gap).isBetween(800L, 3000L);
    }

    @Test
    void insufficientBalanceIsQuotaExhaustedWithoutRetryAndFallsBack() throws Exception {
        JsonNode result = send("quota-1", "quota", 200);
        assertThat(attempts(result)).containsExactly(
                tuple("quota#0", "quota_exhausted", 402),
                tuple("rescue#0", "ok", 200));
        assertRescued(result, "rescue");
        assertThat(received("quota")).hasSize(1);
    }

    @Test
    void unauthorizedIsAuthWithoutRetryAndFallsBack() throws Exception {
        JsonNode result = send("auth-1", "auth", 200);
        assertThat(attempts(result)).containsExactly(
                tuple("auth#0", "auth", 401),
                tuple("rescue#0", "ok", 200));
        assertRescued(result, "rescue");
        assertThat(received("auth")).hasSize(1);
    }

    @Test
    void aPlainBadRequestFailsTheTaskWithoutFallback() throws Exception {
        JsonNode result = send("bad-1", "bad", 400);
        assertThat(result.path("status").asText()).isEqualTo("error");
        assertThat(result.path("error").path("type").asText()).isEqualTo("bad_request");
        assertThat(result.path("output").isNull() || result.path("output").isMissingNode()).isTrue();
        assertThat(attempts(result)).containsExactly(tuple("bad#0", "bad_request", 400));
        assertThat(received("bad")).hasSize(1);
        assertThat(received("rescue2")).isEmpty();
    }

    @Test
    void serverErrorsAreRetriedThenFallBack() throws Exception {
        JsonNode result = send("five-1", "five", 200);
        assertThat(attempts(result)).containsExactly(
                tuple("five#0", "server_error", 500),
                tuple("five#0", "server_error", 500),
                tuple("five#0", "server_error", 500),
                tuple("rescue#0", "ok", 200));
        assertRescued(result, "rescue");
        assertThat(received("five")).hasSize(3);
    }

    @Test
    void aSlowUpstreamTimesOutAndFallsBack() throws Exception {
        JsonNode result = send("slow-1", "slow", 200);
        assertThat(attempts(result)).containsExactly(
                tuple("slow#0", "timeout", null),
                tuple("rescue#0", "ok", 200));
        assertRescued(result, "rescue");
        // one call, not retried: a timeout on the last retry-less call moves on
        assertThat(received("slow")).hasSize(1);
    }

    @Test
    void aConnectionResetIsAConnectionFailureAndFallsBack() throws Exception {
        JsonNode result = send("reset-1", "reset", 200);
        assertThat(attempts(result)).containsExactly(
                tuple("reset#0", "connection", null),
                tuple("rescue#0", "ok", 200));
        assertRescued(result, "rescue");
    }

    @Test
    void aMalformedBodyIsAServerErrorNotACrash() throws Exception {
        JsonNode result = send("garbled-1", "garbled", 200);
        assertThat(result.path("attempts").get(0).path("deployment").asText()).isEqualTo("garbled#0");
        assertThat(result.path("attempts").get(0).path("outcome").asText()).isEqualTo("server_error");
        assertThat(attempts(result)).hasSize(2).last().isEqualTo(tuple("rescue#0", "ok", 200));
        assertRescued(result, "rescue");
    }

    @Test
    void aRateLimitedKeyRotatesToTheNextKey() throws Exception {
        JsonNode result = send("keys-1", "keys", 200);
        assertThat(attempts(result)).containsExactly(
                tuple("keys#0", "rate_limited", 429),
                tuple("keys#0", "ok", 200));
        assertThat(result.path("fallback").asBoolean()).isFalse();
        assertThat(result.path("output").path("content").asText()).isEqualTo("from key two");
        assertThat(received("keys")).extracting(r -> r.getHeader("Authorization"))
                .containsExactly("Bearer key-one", "Bearer key-two");
    }

    @Test
    void whenEverythingFailsTheTaskIsExhaustedWithOneUsageEventPerAttempt() throws Exception {
        JsonNode result = send("dead-1", "deada", 503);
        assertThat(result.path("status").asText()).isEqualTo("error");
        assertThat(result.path("error").path("type").asText()).isEqualTo("exhausted");
        assertThat(result.path("error").path("message").asText()).contains("deada#0 auth", "deadb#0 server_error");
        assertThat(attempts(result)).containsExactly(
                tuple("deada#0", "auth", 401),
                tuple("deadb#0", "server_error", 503));

        List<JsonNode> usage = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : TestKafka.read(caravan.usageTopic, Integer.MAX_VALUE, Duration.ofSeconds(4))) {
            if ("dead-1".equals(r.key())) {
                usage.add(Json.MAPPER.readTree(r.value()));
            }
        }
        usage.sort(Comparator.comparingInt(u -> u.path("attempt").asInt()));
        assertThat(usage).extracting(u -> u.path("attempt").asInt(), u -> u.path("deployment").asText(),
                        u -> u.path("outcome").asText())
                .containsExactly(tuple(1, "deada#0", "auth"), tuple(2, "deadb#0", "server_error"));
    }
}
