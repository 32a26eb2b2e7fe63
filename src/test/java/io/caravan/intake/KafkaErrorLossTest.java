package io.caravan.intake;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.camel.Exchange;
import org.apache.camel.builder.AdviceWith;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Something inside Caravan breaks while a Kafka task is worked on: a {@code java.lang.Error} (or an exception no
 * step expected) out of a bean, or an Error out of a plain Java processor, after the provider was paid. The task
 * still gets an error result, a dead letter and its usage event, its offset is committed and its in-flight slot
 * freed; a JVM error (out of memory) halts the process instead. The breakage is put into the running task route
 * with Camel's own AdviceWith: no provider can throw an Error on purpose.
 */
class KafkaErrorLossTest {

    static WireMockServer upstream;

    @BeforeAll
    static void startUpstream() {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("answered", 1000, 0, 500))));
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("SLOW-ME"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withFixedDelay(5000).withBody(Upstreams.completion("slow", 10, 0, 5))));
    }

    @AfterAll
    static void stopUpstream() {
        upstream.stop();
    }

    static String catalog() {
        return """
                providers:
                  kimi:
                    api: openai
                    base_url: http://127.0.0.1:%d/v1
                    api_keys: ["sk-error-loss-test"]
                    retries: 0
                    timeout: 20s
                models:
                  - name: kimi-k2
                    provider: kimi
                    model: kimi-k2-0905-preview
                    price: {input: 0.60, output: 2.50}
                tiers:
                  balanced: {model: kimi-k2}
                default_tier: balanced
                """.formatted(upstream.port());
    }

    /** Breaks the task route after the provider call, for tasks whose id starts with a known prefix. */
    public static final class Breakage {
        public void afterDispatch(Exchange exchange) {
            String id = TaskContext.of(exchange).task().id();
            if (id.startsWith("assert-")) {
                throw new AssertionError("simulated assertion failure");
            }
            if (id.startsWith("oom-")) {
                throw new OutOfMemoryError("simulated: Java heap space");
            }
            if (id.startsWith("unexpected-")) {
                throw new IllegalStateException("simulated bug");
            }
        }
    }

    static Caravan startBroken(Map<String, String> settings) throws Exception {
        Caravan caravan = Caravan.start(catalog(), Map.of(), settings);
        AdviceWith.adviceWith(caravan.app().camelContext(), "task", route -> route
                .weaveByToUri("direct:dispatch").after()
                .bean(new Breakage(), "afterDispatch")
                .process(exchange -> {
                    // a plain Java processor: Camel does not catch an Error thrown here
                    if (TaskContext.of(exchange).task().id().startsWith("silent-")) {
                        TaskContext.of(exchange).reopen();
                        throw new AssertionError("simulated assertion failure in a processor");
                    }
                }));
        return caravan;
    }

    static byte[] task(String id, String prompt) {
        return ("{\"id\":\"" + id + "\",\"prompt\":\"" + prompt + "\",\"metadata\":{\"tenant\":\"acme\"}}")
                .getBytes(StandardCharsets.UTF_8);
    }

    static Map<String, JsonNode> byKey(List<ConsumerRecord<String, byte[]>> records,
            Function<ConsumerRecord<String, byte[]>, JsonNode> value) {
        return records.stream().collect(Collectors.toMap(ConsumerRecord::key, value, (a, b) -> a));
    }

    static JsonNode json(byte[] bytes) {
        try {
            return Json.MAPPER.readTree(bytes);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aTaskWhoseRouteBreaksGetsAnErrorResultADeadLetterAndItsUsageAndItsOffsetIsCommitted() throws Exception {
        try (Caravan caravan = startBroken(Map.of("caravan.max-in-flight", "8"))) {
            List<String> ids = List.of("assert-1", "unexpected-1", "silent-1", "fine-1");
            TestKafka.sendToPartition(caravan.tasksTopic, 0,
                    ids.stream().map(id -> task(id, "hello " + id)).toList());

            Map<String, JsonNode> results = byKey(TestKafka.readKeys(caravan.resultsTopic, ids, Duration.ofSeconds(30)),
                    r -> json(r.value()));
            assertThat(results.keySet()).containsAll(ids);
            for (String broken : List.of("assert-1", "unexpected-1", "silent-1")) {
                JsonNode result = results.get(broken);
                assertThat(result.path("status").asText()).as(broken).isEqualTo("error");
                assertThat(result.path("error").path("type").asText()).as(broken).isEqualTo("server_error");
                assertThat(result.path("error").path("message").asText()).as(broken).startsWith("internal error");
                // the provider was paid before the breakage: the result says so
                assertThat(result.path("usage").path("input_tokens").asLong()).as(broken).isEqualTo(1000);
            }
            assertThat(results.get("fine-1").path("status").asText()).isEqualTo("ok");

            Set<String> broken = Set.of("assert-1", "unexpected-1", "silent-1");
            List<ConsumerRecord<String, byte[]>> dead = TestKafka.readKeys(caravan.dlqTopic, broken, Duration.ofSeconds(20));
            assertThat(TestKafka.keys(dead)).containsAll(broken).doesNotContain("fine-1");
            dead.forEach(r -> assertThat(new String(r.headers().lastHeader(KafkaIntake.ERROR_TYPE_HEADER).value(),
                    StandardCharsets.UTF_8)).isEqualTo("server_error"));

            Map<String, JsonNode> usage = byKey(TestKafka.readKeys(caravan.usageTopic, ids, Duration.ofSeconds(20)),
                    r -> json(r.value()));
            assertThat(usage.keySet()).as("a usage event for every paid call").containsAll(ids);
            assertThat(usage.get("assert-1").path("cost_usd").asDouble()).isGreaterThan(0);
            assertThat(usage.get("assert-1").path("metadata").path("tenant").asText()).isEqualTo("acme");

            await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(
                    TestKafka.committed(caravan.group, caravan.tasksTopic, 0)).isEqualTo(ids.size()));
            assertThat(caravan.app().inFlight().inFlight()).as("in-flight slots left taken").isZero();
        }
    }

    @Test
    void outOfMemoryInATaskHaltsTheProcessAndCommitsNothingOfIt() throws Exception {
        try (Caravan caravan = startBroken(Map.of())) {
            List<Integer> halts = new CopyOnWriteArrayList<>();
            caravan.app().fatalErrors().haltWith(halts::add);
            TestKafka.sendToPartition(caravan.tasksTopic, 0, List.of(task("oom-1", "hello")));

            await().atMost(Duration.ofSeconds(20)).until(() -> !halts.isEmpty());
            // the status the JVM's own -XX:+ExitOnOutOfMemoryError uses
            assertThat(halts.get(0)).isEqualTo(FatalErrors.EXIT_STATUS);
        }
    }

    @Test
    void anIntakeWhereNothingMovesTurnsLivenessAndReadinessDown() throws Exception {
        try (Caravan caravan = Caravan.start(catalog(), Map.of(), Map.of("caravan.kafka.stall-timeout", "2s"))) {
            await().atMost(Duration.ofSeconds(30)).until(() -> caravan.get("/health/ready").statusCode() == 200);
            assertThat(caravan.get("/health/live").statusCode()).isEqualTo(200);

            // one task that takes longer than the stall timeout, and nothing else moving
            TestKafka.sendToPartition(caravan.tasksTopic, 0, List.of(task("stuck-1", "SLOW-ME")));
            await().atMost(Duration.ofSeconds(10)).until(() -> caravan.get("/health/live").statusCode() == 503);
            assertThat(caravan.get("/health/live").body()).contains("kafka_intake");
            assertThat(caravan.get("/health/ready").statusCode()).isEqualTo(503);
            assertThat(caravan.get("/health/ready").body()).contains("\"kafka_intake\":\"DOWN");

            // once it is answered and committed, the intake moves again
            await().atMost(Duration.ofSeconds(20)).until(() -> caravan.get("/health/live").statusCode() == 200);
            await().atMost(Duration.ofSeconds(10)).until(() -> caravan.get("/health/ready").statusCode() == 200);
            // the commit itself reaches the broker asynchronously, after the in-flight count has moved on
            await().atMost(Duration.ofSeconds(10))
                    .untilAsserted(() -> assertThat(TestKafka.committed(caravan.group, caravan.tasksTopic, 0))
                            .isEqualTo(1));
        }
    }
}
