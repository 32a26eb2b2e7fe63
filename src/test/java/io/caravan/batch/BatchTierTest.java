package io.caravan.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.BatchUpstream;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Deadline tasks through provider batches, with a whole Caravan on the test broker and a provider playing the OpenAI
 * Batch API on 127.0.0.1: batch-priced answers, the choice of path, rescue before the deadline, an expired batch, a
 * 429 on creation, bad rows and bad deadlines.
 */
class BatchTierTest {

    static BatchUpstream upstream;
    static Caravan caravan;
    /** Batch price: half of 0.60 in / 2.50 out per 1M tokens, for 100 prompt and 20 completion tokens. */
    static final double BATCH_COST = (BatchUpstream.PROMPT * 0.30 + BatchUpstream.COMPLETION * 1.25) / 1_000_000.0;

    @BeforeAll
    static void start() throws Exception {
        upstream = new BatchUpstream();
        String catalog = """
                providers:
                  kimi:
                    api: openai
                    base_url: %1$s
                    api_keys: ["sk-batch-test-key"]
                    retries: 0
                    batch: {max_requests: 100, collect: 2s, poll: 100ms, min_slack: 1h}
                  quick:
                    api: openai
                    base_url: %1$s
                    api_keys: ["sk-batch-test-key"]
                    retries: 0
                    batch: {collect: 200ms, poll: 100ms, min_slack: 1s}
                models:
                  - name: kimi-k2
                    provider: kimi
                    model: kimi-k2
                    price: {input: 0.60, output: 2.50}
                    batch_discount: 0.5
                  - name: quick
                    provider: quick
                    model: quick-model
                    price: {input: 0.60, output: 2.50, batch_input: 0.30, batch_output: 1.25}
                tiers:
                  balanced: {model: kimi-k2}
                default_tier: balanced
                """.formatted(upstream.baseUrl());
        String prefix = Caravan.newPrefix();
        caravan = Caravan.start(catalog, Map.of(), Map.of("caravan.topics.batches", prefix + ".batches",
                "caravan.batch.tick", "50ms", "caravan.batch.rescue-margin", "3s",
                "caravan.batch.session-timeout-ms", "6000"), prefix);
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.close();
    }

    @Test
    void aFewHundredDeadlineTasksAreAnsweredThroughBatchesAtTheBatchPrice() throws Exception {
        upstream.mode(BatchUpstream.Mode.COMPLETE);
        int onlineBefore = upstream.online.get();
        List<String> ids = new ArrayList<>();
        try (var producer = TestKafka.producer()) {
            for (int i = 0; i < 300; i++) {
                String id = "rt-" + i;
                ids.add(id);
                producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(caravan.tasksTopic, id,
                        ("{\"id\":\"" + id + "\",\"prompt\":\"Enrich row " + i + "\",\"max_delay\":\"24h\"}")
                                .getBytes(StandardCharsets.UTF_8)));
            }
        }
        Map<String, JsonNode> results = byKey(TestKafka.readKeys(caravan.resultsTopic, ids, Duration.ofSeconds(90)),
                ids);
        assertThat(results).hasSize(300);
        for (int i = 0; i < 300; i++) {
            JsonNode r = results.get("rt-" + i);
            assertThat(r.get("status").asText()).isEqualTo("ok");
            assertThat(r.get("mode").asText()).isEqualTo("batch");
            assertThat(r.at("/output/content").asText()).isEqualTo("batch answer to Enrich row " + i);
            assertThat(r.get("routing_reason").asText()).contains("-> batch on kimi-k2#0");
            assertThat(r.at("/usage/cost_usd").asDouble()).isCloseTo(BATCH_COST, within(1e-12));
            assertThat(r.at("/usage/input_tokens").asLong()).isEqualTo(BatchUpstream.PROMPT);
        }
        List<ConsumerRecord<String, byte[]>> usage = TestKafka.readUntil(caravan.usageTopic,
                recs -> recs.stream().filter(r -> r.key().startsWith("rt-")).count() >= 300, Duration.ofSeconds(30));
        double spent = 0;
        List<io.caravan.accounting.UsageEvent> events = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> u : usage) {
            if (u.key().startsWith("rt-")) {
                JsonNode e = Json.MAPPER.readTree(u.value());
                assertThat(e.get("mode").asText()).isEqualTo("batch");
                spent += e.get("cost_usd").asDouble();
                events.add(io.caravan.accounting.UsageEvent.parse(u.value(), u.timestamp()));
            }
        }
        assertThat(spent).isCloseTo(300 * BATCH_COST, within(1e-9));
        // caravan report: spend by mode, and the saving against the online price (here the same again)
        var saving = io.caravan.accounting.BatchSaving.of(events, caravan.app().catalogs().current());
        assertThat(saving.batchSpend()).isCloseTo(300 * BATCH_COST, within(1e-9));
        assertThat(saving.saved()).isCloseTo(300 * BATCH_COST, within(1e-9));
        var byMode = io.caravan.accounting.UsageReport.of(events, io.caravan.accounting.UsageReport.By.MODE);
        assertThat(byMode.rows()).extracting(io.caravan.accounting.UsageReport.Row::key).containsExactly("batch");
        String metrics = caravan.get("/metrics").body();
        assertThat(metrics).contains("caravan_batch_open").containsPattern(
                "caravan_batch_requests_total\\{outcome=\"ok\",provider=\"kimi\"} [0-9.]+");
        assertThat(upstream.online.get()).isEqualTo(onlineBefore);
        // every offset committed once the batches were recorded, nothing left waiting
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(committedTotal(caravan.group, caravan.tasksTopic)).isGreaterThanOrEqualTo(300);
            assertThat(caravan.app().batches().book().size()).isZero();
        });
        assertThat(caravan.app().batches().work().counted("kimi", "ok")).isGreaterThanOrEqualTo(300);
        // 300 tasks, at most 100 a batch: a few batches, not one per task
        assertThat(upstream.creates.get()).isLessThanOrEqualTo(10);
    }

    @Test
    void thePathDependsOnTheSlackTheDeadlineLeaves() throws Exception {
        upstream.mode(BatchUpstream.Mode.COMPLETE);
        HttpResponse<String> none = caravan.post("/v1/tasks", "{\"id\":\"p-none\",\"prompt\":\"hi\"}");
        assertThat(none.statusCode()).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(none.body()).get("mode").asText()).isEqualTo("online");

        String soon = Instant.now().plus(Duration.ofMinutes(30)).toString();
        HttpResponse<String> tight = caravan.post("/v1/tasks",
                "{\"id\":\"p-tight\",\"prompt\":\"hi\",\"deadline\":\"" + soon + "\"}");
        assertThat(tight.statusCode()).isEqualTo(200);
        JsonNode tightResult = Json.MAPPER.readTree(tight.body());
        assertThat(tightResult.get("mode").asText()).isEqualTo("online");
        assertThat(tightResult.get("routing_reason").asText()).contains("under min_slack 1h of kimi-k2#0 -> online");

        HttpResponse<String> later = caravan.post("/v1/tasks",
                "{\"id\":\"p-later\",\"prompt\":\"hi\",\"max_delay\":\"6h\"}");
        assertThat(later.statusCode()).isEqualTo(202);
        JsonNode accepted = Json.MAPPER.readTree(later.body());
        assertThat(accepted.get("id").asText()).isEqualTo("p-later");
        assertThat(accepted.get("status").asText()).isEqualTo("accepted");
        assertThat(accepted.get("mode").asText()).isEqualTo("batch");
        Map<String, JsonNode> results = byKey(TestKafka.readKeys(caravan.resultsTopic, List.of("p-later"),
                Duration.ofSeconds(30)), List.of("p-later"));
        assertThat(results.get("p-later").get("mode").asText()).isEqualTo("batch");
        assertThat(results.get("p-later").get("routing_reason").asText()).contains("leaves 5h -> batch on kimi-k2#0");
    }

    @Test
    void pastOrUnreadableDeadlinesAreInvalidTasks() throws Exception {
        String past = Instant.now().minus(Duration.ofMinutes(5)).toString();
        HttpResponse<String> r = caravan.post("/v1/tasks", "{\"id\":\"d-past\",\"prompt\":\"hi\",\"deadline\":\"" + past + "\"}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(Json.MAPPER.readTree(r.body()).at("/error/code").asText()).isEqualTo("invalid_task");
        assertThat(Json.MAPPER.readTree(r.body()).at("/error/message").asText()).contains("is in the past");
        HttpResponse<String> bad = caravan.post("/v1/tasks", "{\"id\":\"d-bad\",\"prompt\":\"hi\",\"max_delay\":\"soon\"}");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(Json.MAPPER.readTree(bad.body()).at("/error/message").asText()).contains("max_delay must be a duration");

        TestKafka.send(caravan.tasksTopic, "d-kafka", "{\"id\":\"d-kafka\",\"prompt\":\"hi\",\"deadline\":\"tomorrow\"}"
                .getBytes(StandardCharsets.UTF_8), Map.of());
        JsonNode result = byKey(TestKafka.readKeys(caravan.resultsTopic, List.of("d-kafka"), Duration.ofSeconds(30)),
                List.of("d-kafka")).get("d-kafka");
        assertThat(result.at("/error/type").asText()).isEqualTo("invalid_task");
        assertThat(result.at("/error/message").asText()).contains("deadline must be an ISO-8601 instant");
        assertThat(TestKafka.keys(TestKafka.readKeys(caravan.dlqTopic, List.of("d-kafka"), Duration.ofSeconds(30))))
                .contains("d-kafka");
    }

    @Test
    void aBadRowGetsItsErrorResultAndTheOthersTheirAnswers() throws Exception {
        upstream.mode(BatchUpstream.Mode.COMPLETE);
        TestKafka.send(caravan.tasksTopic, "row-bad", "{\"id\":\"row-bad\",\"prompt\":\"BAD-ROW here\",\"max_delay\":\"24h\"}"
                .getBytes(StandardCharsets.UTF_8), Map.of());
        TestKafka.send(caravan.tasksTopic, "row-good", "{\"id\":\"row-good\",\"prompt\":\"fine\",\"max_delay\":\"24h\"}"
                .getBytes(StandardCharsets.UTF_8), Map.of());
        Map<String, JsonNode> results = byKey(TestKafka.readKeys(caravan.resultsTopic, List.of("row-bad", "row-good"),
                Duration.ofSeconds(30)), List.of("row-bad", "row-good"));
        assertThat(results.get("row-good").get("status").asText()).isEqualTo("ok");
        JsonNode bad = results.get("row-bad");
        assertThat(bad.get("status").asText()).isEqualTo("error");
        assertThat(bad.at("/error/type").asText()).isEqualTo("bad_request");
        assertThat(bad.get("mode").asText()).isEqualTo("batch");
        assertThat(TestKafka.keys(TestKafka.readKeys(caravan.dlqTopic, List.of("row-bad"), Duration.ofSeconds(30))))
                .contains("row-bad");
    }

    @Test
    void aBatchThatNeverCompletesIsRescuedOnlineBeforeTheDeadlineAndCancelled() throws Exception {
        upstream.mode(BatchUpstream.Mode.NEVER);
        int cancels = upstream.cancels.get();
        Instant deadline = Instant.now().plus(Duration.ofSeconds(15));
        List<String> ids = List.of("rescue-1", "rescue-2", "rescue-3");
        for (String id : ids) {
            TestKafka.send(caravan.tasksTopic, id, ("{\"id\":\"" + id + "\",\"model\":\"quick\",\"prompt\":\"late " + id
                    + "\",\"deadline\":\"" + deadline + "\"}").getBytes(StandardCharsets.UTF_8), Map.of());
        }
        // while it waits, /status lists the open batch
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode status = Json.MAPPER.readTree(caravan.get("/status").body());
            assertThat(status.get("batches").toString()).contains("\"provider\":\"quick\"")
                    .contains("\"tasks_waiting\":3");
        });
        List<ConsumerRecord<String, byte[]>> records = TestKafka.readKeys(caravan.resultsTopic, ids, Duration.ofSeconds(30));
        Map<String, JsonNode> results = byKey(records, ids);
        for (ConsumerRecord<String, byte[]> r : records) {
            if (ids.contains(r.key())) {
                assertThat(Instant.ofEpochMilli(r.timestamp())).isBefore(deadline);
            }
        }
        for (String id : ids) {
            JsonNode r = results.get(id);
            assertThat(r.get("status").asText()).isEqualTo("ok");
            assertThat(r.get("mode").asText()).isEqualTo("online");
            assertThat(r.at("/output/content").asText()).startsWith("online answer to");
            assertThat(r.get("routing_reason").asText()).contains("-> batch on quick#0").contains("rescued from batch");
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> upstream.cancels.get() > cancels);
    }

    @Test
    void anExpiredBatchAnswersWhatItHasAndSendsTheRestOnline() throws Exception {
        upstream.mode(BatchUpstream.Mode.EXPIRE);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ids.add("exp-" + i);
            TestKafka.send(caravan.tasksTopic, "exp-" + i, ("{\"id\":\"exp-" + i + "\",\"model\":\"quick\",\"prompt\":\"e"
                    + i + "\",\"max_delay\":\"1h\"}").getBytes(StandardCharsets.UTF_8), Map.of());
        }
        List<ConsumerRecord<String, byte[]>> records = TestKafka.readKeys(caravan.resultsTopic, ids, Duration.ofSeconds(30));
        Map<String, JsonNode> results = byKey(records, ids);
        long batch = results.values().stream().filter(r -> r.get("mode").asText().equals("batch")).count();
        long online = results.values().stream().filter(r -> r.get("mode").asText().equals("online")).count();
        assertThat(batch).isPositive();
        assertThat(online).isPositive();
        assertThat(batch + online).isEqualTo(10);
        results.values().forEach(r -> assertThat(r.get("status").asText()).isEqualTo("ok"));
        // an expired row is a failed attempt (timeout) before its online answer
        results.values().stream().filter(r -> r.get("mode").asText().equals("online")).forEach(r ->
                assertThat(r.get("attempts").get(0).get("outcome").asText()).isEqualTo("timeout"));
        Thread.sleep(500); // nothing more comes: each task answered once
        assertThat(records.stream().filter(r -> r.key().startsWith("exp-")).count()).isEqualTo(10);
    }

    @Test
    void a429OnBatchCreationIsRetriedAndTheBatchGoesThrough() throws Exception {
        upstream.mode(BatchUpstream.Mode.COMPLETE);
        int refused = upstream.refusedCreates.get();
        upstream.refuseNextCreates(2);
        TestKafka.send(caravan.tasksTopic, "busy-1", "{\"id\":\"busy-1\",\"model\":\"quick\",\"prompt\":\"b\",\"max_delay\":\"1h\"}"
                .getBytes(StandardCharsets.UTF_8), Map.of());
        JsonNode r = byKey(TestKafka.readKeys(caravan.resultsTopic, List.of("busy-1"), Duration.ofSeconds(30)),
                List.of("busy-1")).get("busy-1");
        assertThat(r.get("mode").asText()).isEqualTo("batch");
        assertThat(upstream.refusedCreates.get() - refused).isEqualTo(2);
    }

    @Test
    void theBatchCommandWithAMaxDelayTakesTheProviderBatchPath() throws Exception {
        upstream.mode(BatchUpstream.Mode.COMPLETE);
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("batch-cli");
        java.nio.file.Path in = dir.resolve("in.jsonl");
        java.nio.file.Path out = dir.resolve("out.jsonl");
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 3; i++) {
            lines.append("{\"custom_id\":\"cli-").append(i).append("\",\"method\":\"POST\",\"url\":"
                    + "\"/v1/chat/completions\",\"body\":{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":"
                    + "\"user\",\"content\":\"line ").append(i).append("\"}],\"max_tokens\":50}}\n");
        }
        java.nio.file.Files.writeString(in, lines);
        io.caravan.Settings settings = io.caravan.Settings.load()
                .with("kafka.bootstrap-servers", TestKafka.bootstrapServers())
                .with("caravan.topics.tasks", caravan.tasksTopic)
                .with("caravan.topics.results", caravan.resultsTopic);
        var stdout = new java.io.ByteArrayOutputStream();
        var stderr = new java.io.ByteArrayOutputStream();
        var run = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return io.caravan.cli.BatchCommand.run(settings, List.of(in.toString(), "-o", out.toString(),
                        "--max-delay", "24h"), new java.io.PrintStream(stdout), new java.io.PrintStream(stderr));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(run.get(60, java.util.concurrent.TimeUnit.SECONDS)).as(stderr.toString()).isZero();
        List<String> written = java.nio.file.Files.readAllLines(out);
        assertThat(written).hasSize(3);
        for (String line : written) {
            JsonNode n = Json.MAPPER.readTree(line);
            assertThat(n.at("/response/status_code").asInt()).isEqualTo(200);
            assertThat(n.at("/response/body/x_caravan_mode").asText()).isEqualTo("batch");
            assertThat(n.at("/response/body/choices/0/message/content").asText()).startsWith("batch answer to line");
        }
        io.caravan.support.TempFolders.delete(dir);
    }

    static Map<String, JsonNode> byKey(List<ConsumerRecord<String, byte[]>> records, List<String> keys)
            throws Exception {
        Map<String, JsonNode> out = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : records) {
            if (keys.contains(r.key())) {
                out.put(r.key(), Json.MAPPER.readTree(r.value()));
            }
        }
        return out;
    }

    static long committedTotal(String group, String topic) throws Exception {
        try (var admin = TestKafka.admin()) {
            return admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().entrySet().stream()
                    .filter(e -> e.getKey().topic().equals(topic)).mapToLong(e -> e.getValue().offset()).sum();
        }
    }
}
