package io.caravan.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The catalog's batch block and batch prices: read, defaulted, and each mistake one line naming file and entry. */
class BatchCatalogTest {

    @TempDir
    Path dir;

    Catalog load(String batch, String model) throws Exception {
        Path file = dir.resolve("catalog.yaml");
        Files.writeString(file, """
                providers:
                  kimi:
                    api: openai
                    base_url: https://api.moonshot.ai/v1
                    api_keys: ["sk-test"]
                %s
                  sim: {api: simulated}
                models:
                  - name: kimi-k2
                    provider: kimi
                    model: kimi-k2-0905-preview
                %s
                  - {name: small, provider: sim, model: s}
                """.formatted(batch, model));
        return CatalogLoader.load(file, Map.of());
    }

    @Test
    void aBatchBlockWithDefaultsAndBothWaysOfPricing() throws Exception {
        Catalog c = load("    batch: {max_requests: 1000, max_bytes: 50MB, window: 24h, poll: 30s}",
                "    price: {input: 0.60, cached_input: 0.15, output: 2.50, batch_input: 0.25, batch_output: 1.0}");
        BatchSpec.Provider b = c.batches().enabledFor("kimi");
        assertThat(b.maxRequests()).isEqualTo(1000);
        assertThat(b.maxBytes()).isEqualTo(50L * 1024 * 1024);
        assertThat(b.minSlack()).isEqualTo(Duration.ofHours(24)); // defaults to the window
        assertThat(b.collect()).isEqualTo(Duration.ofMinutes(5));
        assertThat(c.batches().enabledFor("sim")).isNull();
        DeploymentSpec kimi = c.group("kimi-k2").get(0);
        assertThat(c.batches().priceOf(kimi).input()).isEqualTo(0.25);
        assertThat(c.batches().priceOf(kimi).cachedInput()).isNull();
        assertThat(kimi.price().input()).isEqualTo(0.60); // the online price is untouched

        Catalog discounted = load("    batch: {min_slack: 2h}", "    price: {input: 1.0, output: 4.0}\n    batch_discount: 0.4");
        DeploymentSpec d = discounted.group("kimi-k2").get(0);
        assertThat(discounted.batches().priceOf(d).output()).isEqualTo(1.6, org.assertj.core.api.Assertions.within(1e-12));
        assertThat(io.caravan.batch.BatchCheck.render(discounted)).contains("kimi-k2#0 (kimi): batch: window 24h, min_slack 2h")
                .contains("small#0 (sim): online only");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "    batch: {every: 5m}| | providers.kimi.batch| unknown field 'every'",
        "    batch: {max_bytes: lots}| | providers.kimi.batch| max_bytes: must be a size",
        "    batch: {poll: soon}| | providers.kimi.batch| poll: bad duration 'soon'",
        "    batch: {}|    price: {input: 1, output: 1, batch_input: 0.5, batch_output: 0.5}\\n    batch_discount: 0.5| models[0] (kimi-k2)| not both",
        "    batch: {}|    batch_discount: 2| models[0] (kimi-k2)| batch_discount: must be a fraction",
        "    batch: {}|    price: {input: 1, output: 1, batch_input: 0.5}| models[0] (kimi-k2).price| batch_input and batch_output go together",
    })
    void mistakesAreOneLine(String batch, String model, String entry, String problem) {
        CatalogException e = catchThrowableOfType(() -> load(indent(batch), model == null ? "" : indent(model)),
                CatalogException.class);
        assertThat(e).isNotNull();
        assertThat(e.getMessage()).doesNotContain("\n").contains("catalog.yaml").contains(entry).contains(problem);
    }

    /** CSV values come trimmed: each line goes back under its entry, four spaces in. */
    static String indent(String text) {
        StringBuilder sb = new StringBuilder();
        for (String line : text.split("\\\\n")) {
            sb.append(sb.length() == 0 ? "" : "\n").append("    ").append(line.strip());
        }
        return sb.toString();
    }

    @Test
    void aBatchBlockOnAnApiWithoutABatchApiIsRefused() throws Exception {
        Path file = dir.resolve("sim.yaml");
        Files.writeString(file, """
                providers:
                  sim: {api: simulated, batch: {enabled: true}}
                models:
                  - {name: small, provider: sim, model: s}
                """);
        CatalogException e = catchThrowableOfType(() -> CatalogLoader.load(file, Map.of()), CatalogException.class);
        assertThat(e.getMessage()).contains("providers.sim.batch").contains("api 'simulated' has no batch API");
    }
}
