package io.caravan.support;

import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogLoader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One way for tests to write a catalog: providers, models and the other blocks added one by one, then the YAML
 * text (for {@link Caravan#start(String)} or a catalog file) or a loaded {@link Catalog}. Without a
 * {@code tiers:} block the first model's group is the {@code balanced} tier.
 */
public final class TestCatalog {

    private final StringBuilder providers = new StringBuilder();
    private final StringBuilder models = new StringBuilder();
    private final List<String> blocks = new ArrayList<>();
    private String firstGroup;
    private boolean tiers;

    private TestCatalog() {}

    public static TestCatalog create() {
        return new TestCatalog();
    }

    /**
     * An OpenAI-compatible provider at {@code baseUrl} with one key and no retries (unless {@code options} say);
     * {@code options} are further YAML entries of the provider, e.g. {@code "tpm: 1000"} or {@code "timeout: 2s"}.
     */
    public TestCatalog openAi(String name, String baseUrl, String... options) {
        boolean retries = List.of(options).stream().anyMatch(o -> o.startsWith("retries:"));
        return provider(name, "openai", "base_url: \"" + baseUrl + "\", api_keys: [\"sk-" + name + "-test\"]"
                + (retries ? "" : ", retries: 0"), options);
    }

    /** A simulated provider: no keys, no network. */
    public TestCatalog simulated(String name, String... options) {
        return provider(name, "simulated", null, options);
    }

    private TestCatalog provider(String name, String api, String wire, String... options) {
        List<String> entries = new ArrayList<>();
        entries.add("api: " + api);
        if (wire != null) {
            entries.add(wire);
        }
        entries.addAll(List.of(options));
        providers.append("  ").append(name).append(": {").append(String.join(", ", entries)).append("}\n");
        return this;
    }

    /** A deployment of {@code group} on {@code provider}, priced at 1 USD per million tokens in and out. */
    public TestCatalog model(String group, String provider, String model) {
        return model(group, provider, model, 1.0);
    }

    /** A deployment priced at {@code price} USD per million tokens, in and out. */
    public TestCatalog model(String group, String provider, String model, double price) {
        if (firstGroup == null) {
            firstGroup = group;
        }
        models.append("  - {name: ").append(group).append(", provider: ").append(provider).append(", model: ")
                .append(model).append(", price: {input: ").append(price).append(", output: ").append(price)
                .append("}}\n");
        return this;
    }

    /** Any other top-level block as YAML text, e.g. {@code "fallbacks:\n  a: [b]\n"}. */
    public TestCatalog block(String yaml) {
        blocks.add(yaml.endsWith("\n") ? yaml : yaml + "\n");
        if (yaml.startsWith("tiers:")) {
            tiers = true;
        }
        return this;
    }

    public String yaml() {
        StringBuilder yaml = new StringBuilder("providers:\n").append(providers).append("models:\n").append(models);
        blocks.forEach(yaml::append);
        if (!tiers && firstGroup != null) {
            yaml.append("tiers:\n  balanced: {model: ").append(firstGroup).append("}\n");
        }
        return yaml.toString();
    }

    /** The catalog as Caravan loads it (written to a temporary file, which is removed again). */
    public Catalog load() {
        try {
            Path file = Files.createTempFile("catalog", ".yaml");
            try {
                Files.writeString(file, yaml());
                return CatalogLoader.load(file, Map.of());
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
