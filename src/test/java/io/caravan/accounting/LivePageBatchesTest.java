package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.BatchUpstream;
import io.caravan.support.Caravan;
import io.caravan.util.Json;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;

/**
 * The live page's open-batches panel against a real open batch: deadline tasks posted to a Caravan whose provider
 * has the OpenAI Batch API (played on 127.0.0.1, holding the batch in progress) show as one batch with its
 * provider, size and waiting tasks, and the panel empties once the provider finishes the batch.
 */
class LivePageBatchesTest {

    static BatchUpstream upstream;
    static Caravan caravan;
    static HeadlessChromium chromium;

    @BeforeAll
    static void start() throws Exception {
        HeadlessChromium.assumeInstalled();
        upstream = new BatchUpstream();
        upstream.mode(BatchUpstream.Mode.HOLD);
        String catalog = """
                providers:
                  kimi:
                    api: openai
                    base_url: %s
                    api_keys: ["sk-live-batch-key"]
                    retries: 0
                    batch: {collect: 300ms, poll: 100ms, min_slack: 1h}
                models:
                  - {name: kimi-k2, provider: kimi, model: kimi-k2, price: {input: 0.60, output: 2.50}, batch_discount: 0.5}
                tiers:
                  balanced: {model: kimi-k2}
                default_tier: balanced
                """.formatted(upstream.baseUrl());
        String prefix = Caravan.newPrefix();
        caravan = Caravan.start(catalog, Map.of(), Map.of("caravan.topics.batches", prefix + ".batches",
                "caravan.batch.tick", "50ms"), prefix);
        chromium = new HeadlessChromium();
    }

    @AfterAll
    static void stop() throws Exception {
        if (chromium != null) {
            chromium.close();
        }
        if (caravan != null) {
            caravan.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void anOpenBatchShowsOnThePageUntilTheProviderFinishesIt() throws Exception {
        for (int i = 0; i < 3; i++) {
            var r = caravan.post("/v1/tasks", "{\"id\":\"lb" + i + "\",\"prompt\":\"Enrich row " + i
                    + "\",\"max_delay\":\"24h\"}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
        }
        // the batch, as /status has it once the provider holds it
        JsonNode batch = await().atMost(Duration.ofSeconds(30)).until(() -> {
            JsonNode open = Json.MAPPER.readTree(caravan.get("/status").body()).path("batches");
            return open.size() == 1 && open.get(0).path("state").asText().equals("in_progress") ? open.get(0) : null;
        }, b -> b != null);

        chromium.browser.get("http://127.0.0.1:" + caravan.httpPort + "/?every=1");
        String key = "batch:" + batch.path("id").asText();
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            assertThat(chromium.browser.findElement(By.id("batches")).isDisplayed()).isTrue();
            assertThat(chromium.row(key)).isNotEmpty();
        });
        var headings = chromium.headings("batch-table");
        var cells = chromium.row(key);
        assertThat(cells.get(headings.indexOf("provider"))).isEqualTo("kimi");
        assertThat(cells.get(headings.indexOf("deployment"))).isEqualTo("kimi-k2#0");
        assertThat(cells.get(headings.indexOf("state"))).isEqualTo("in_progress");
        assertThat(cells.get(headings.indexOf("size"))).isEqualTo("3");
        assertThat(cells.get(headings.indexOf("tasks_waiting"))).isEqualTo("3");
        assertThat(cells.get(headings.indexOf("provider_batch_id"))).isEqualTo(batch.path("provider_batch_id").asText());

        // the provider finishes it: the answers go out and the panel says there is no open batch
        upstream.release();
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            assertThat(chromium.row(key)).isEmpty();
            assertThat(chromium.browser.findElement(By.id("batch-table")).getText()).isEqualTo("no open batch");
        });
    }
}
