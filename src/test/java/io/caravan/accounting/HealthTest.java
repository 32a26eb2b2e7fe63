package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.catalog.CatalogHolder;
import io.caravan.catalog.CatalogLoader;
import io.caravan.operations.Health;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Readiness says DOWN, and why, when Kafka does not answer and the ledger has not been rebuilt. */
class HealthTest {

    @Test
    void notReadyWithoutKafkaNorARebuiltLedgerNorCamel(@TempDir Path dir) throws Exception {
        Path catalog = dir.resolve("catalog.yaml");
        Files.writeString(catalog, """
                providers:
                  p: {api: simulated}
                models:
                  - {name: a, provider: p, model: m}
                """);
        SpendLedger ledger = new SpendLedger("127.0.0.1:1", "llm.usage"); // never started
        try (Health health = new Health(new CatalogHolder(CatalogLoader.load(catalog)), ledger, "127.0.0.1:1")) {
            JsonNode readiness = health.readiness(null);
            assertThat(readiness.path("status").asText()).isEqualTo("DOWN");
            assertThat(readiness.path("checks").path("catalog").asText()).isEqualTo("UP");
            assertThat(readiness.path("checks").path("routes").asText()).isEqualTo("DOWN: camel is not started");
            assertThat(readiness.path("checks").path("kafka").asText())
                    .isEqualTo("DOWN: no answer from 127.0.0.1:1 within 2s");
            assertThat(readiness.path("checks").path("spend_ledger").asText()).startsWith("DOWN");
        }
    }
}
