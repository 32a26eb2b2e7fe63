package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/** Reads and validates the catalog's {@code models} block: the deployments, grouped by name, and their prices. */
final class ModelsReader extends BlockReader {

    private static final Set<String> DEPLOYMENT_FIELDS = Set.of("name", "provider", "model", "context_window",
            "max_output_tokens", "price", "weight", "batch_discount");
    private static final Set<String> PRICE_FIELDS = Set.of("input", "cached_input", "output",
            "batch_input", "batch_cached_input", "batch_output");
    private static final Set<String> RESERVED_GROUPS = Set.of("auto");

    ModelsReader(String file, Consumer<String> warnings) {
        super(file, warnings);
    }

    Map<String, List<DeploymentSpec>> read(JsonNode block, Map<String, ProviderSpec> providers) {
        if (absent(block) || (block.isArray() && block.isEmpty())) {
            throw fail("models", "missing (at least one deployment is needed)");
        }
        if (!block.isArray()) {
            throw fail("models", "must be a list of deployments");
        }
        Map<String, List<DeploymentSpec>> groups = new LinkedHashMap<>();
        for (int i = 0; i < block.size(); i++) {
            JsonNode node = block.get(i);
            String entry = "models[" + i + "]";
            requireMapping(node, entry);
            String name = text(node, "name", entry);
            if (name == null || name.isBlank()) {
                throw fail(entry, "missing name");
            }
            name = name.trim();
            entry = entry + " (" + name + ")";
            if (RESERVED_GROUPS.contains(name) || name.startsWith("tier:")) {
                throw fail(entry, "name '" + name + "' is reserved (tasks use it to ask for routing)");
            }
            String provider = text(node, "provider", entry);
            if (provider == null || provider.isBlank()) {
                throw fail(entry, "missing provider");
            }
            provider = provider.trim();
            if (!providers.containsKey(provider)) {
                throw fail(entry, "unknown provider '" + provider + "'");
            }
            String model = text(node, "model", entry);
            if (model == null || model.isBlank()) {
                throw fail(entry, "missing model (the provider's own model id)");
            }
            Integer contextWindow = positive(integer(node, "context_window", entry), entry, "context_window");
            Integer maxOutput = positive(integer(node, "max_output_tokens", entry), entry, "max_output_tokens");
            Integer weight = integer(node, "weight", entry);
            if (weight == null) {
                weight = 1;
            } else if (weight < 1) {
                throw fail(entry, "weight must be at least 1, got " + weight);
            }
            List<DeploymentSpec> group = groups.computeIfAbsent(name, g -> new ArrayList<>());
            String id = name + "#" + group.size();
            Price price = readPrice(node.get("price"), entry);
            if (price == null) {
                warn(entry + ": no price, deployment " + id + " is counted as free");
                price = Price.FREE;
            }
            String where = entry;
            node.fieldNames().forEachRemaining(f -> {
                if (!DEPLOYMENT_FIELDS.contains(f)) {
                    warn(where + ": ignoring unknown field '" + f + "'");
                }
            });
            group.add(new DeploymentSpec(id, name, provider, model.trim(), contextWindow, maxOutput, price,
                    weight));
        }
        Map<String, List<DeploymentSpec>> frozen = new LinkedHashMap<>();
        groups.forEach((k, v) -> frozen.put(k, List.copyOf(v)));
        return frozen;
    }

    private Price readPrice(JsonNode node, String entry) {
        if (absent(node)) {
            return null;
        }
        String where = entry + ".price";
        requireMapping(node, where);
        node.fieldNames().forEachRemaining(f -> {
            if (!PRICE_FIELDS.contains(f)) {
                throw fail(where, "unknown field '" + f + "' (expected input, cached_input, output, batch_input, batch_cached_input, batch_output)");
            }
        });
        Double input = number(node, "input", where);
        Double cached = number(node, "cached_input", where);
        Double output = number(node, "output", where);
        return new Price(input == null ? 0 : input, cached, output == null ? 0 : output);
    }
}
