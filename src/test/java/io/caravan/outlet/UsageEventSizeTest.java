package io.caravan.outlet;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.task.Task;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.support.DefaultExchange;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A usage event stays small whatever the task's metadata holds, so a paid call is always recorded: a task with
 * ~900 KB of metadata (handed straight to the task pipeline, whatever limits the parsers put on metadata) still
 * yields a published usage event with its cost and tenant.
 */
class UsageEventSizeTest {

    static WireMockServer upstream;

    @BeforeAll
    static void startUpstream() {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/v1/chat/completions"))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(Upstreams.completion("paid answer", 1000, 0, 500))));
    }

    @AfterAll
    static void stopUpstream() {
        upstream.stop();
    }

    static ObjectNode hugeMetadata() {
        ObjectNode metadata = Json.object();
        metadata.put("tenant", "acme");
        metadata.put("agent_id", "a-7");
        metadata.put("attempt_budget", 3);
        metadata.put("padding", "x".repeat(600_000));
        ObjectNode nested = metadata.putObject("context");
        for (int i = 0; i < 3_000; i++) {
            nested.put("field-" + i, "value of a nested field number " + i + " with some words in it");
        }
        for (int i = 0; i < 100; i++) {
            metadata.put("label-" + i, "short " + i);
        }
        return metadata;
    }

    @Test
    void theBoundedMetadataKeepsTheTenantAndShortFieldsAndStaysSmall() {
        ObjectNode metadata = hugeMetadata();
        assertThat(Json.bytes(metadata).length).isGreaterThan(800_000);
        ObjectNode bounded = UsageRecords.boundedMetadata(metadata);
        assertThat(bounded.path("tenant").asText()).isEqualTo("acme");
        assertThat(bounded.path("agent_id").asText()).isEqualTo("a-7");
        assertThat(bounded.path("attempt_budget").asInt()).isEqualTo(3);
        assertThat(bounded.has("padding")).isFalse();
        assertThat(bounded.has("context")).isFalse();
        assertThat(bounded.size()).isEqualTo(1 + UsageRecords.MAX_OTHER_FIELDS);
        assertThat(Json.bytes(bounded).length).isLessThan(8_192);

        ObjectNode longTenant = Json.object();
        longTenant.put("tenant", "t".repeat(900_000));
        assertThat(UsageRecords.boundedMetadata(longTenant).path("tenant").asText())
                .hasSize(UsageRecords.MAX_TENANT_CHARS);
    }

    @Test
    void aTaskWithNineHundredKilobytesOfMetadataStillHasItsSpendPublished() throws Exception {
        String catalog = """
                providers:
                  kimi:
                    api: openai
                    base_url: http://127.0.0.1:%d/v1
                    api_keys: ["sk-usage-size-test"]
                    retries: 0
                models:
                  - name: kimi-k2
                    provider: kimi
                    model: kimi-k2-0905-preview
                    price: {input: 0.60, output: 2.50}
                tiers:
                  balanced: {model: kimi-k2}
                default_tier: balanced
                """.formatted(upstream.port());
        try (Caravan caravan = Caravan.start(catalog)) {
            ObjectNode metadata = hugeMetadata();
            var messages = Json.array();
            messages.addObject().put("role", "user").put("content", "hello");
            Task task = new Task("fat-metadata-1", messages, Task.AUTO, null, Json.object(), metadata, Map.of(), null);
            Exchange exchange = new DefaultExchange(caravan.app().camelContext());
            exchange.setProperty(TaskContext.PROPERTY, new TaskContext(task, TaskContext.Source.HTTP,
                    caravan.app().catalogs().current(), 30_000));
            Exchange done = caravan.app().camelContext().createProducerTemplate().send("direct:task", exchange);
            assertThat(TaskContext.of(done).reply()).as("the task was answered").isNotNull();

            List<ConsumerRecord<String, byte[]>> usage = TestKafka.readKeys(caravan.usageTopic,
                    List.of("fat-metadata-1"), Duration.ofSeconds(30));
            assertThat(usage).hasSize(1);
            assertThat(usage.get(0).value().length).isLessThan(8_192);
            JsonNode event = Json.MAPPER.readTree(usage.get(0).value());
            assertThat(event.path("cost_usd").asDouble()).isCloseTo((1000 * 0.60 + 500 * 2.50) / 1_000_000, within(1e-12));
            assertThat(event.path("metadata").path("tenant").asText()).isEqualTo("acme");
        }
    }
}
