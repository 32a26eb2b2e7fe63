package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.util.Durations;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and validates the catalog's batch settings: each provider's {@code batch:} block and each model's batch
 * price ({@code price: {batch_input, batch_cached_input, batch_output}} or {@code batch_discount: 0.5}). Problems
 * are one line naming the file, the entry and the problem, like the rest of the catalog.
 */
final class BatchReader {

    static final Set<String> BATCH_FIELDS = Set.of("enabled", "max_requests", "max_bytes", "window", "min_slack",
            "poll", "collect");
    /** The APIs with a batch adapter. */
    static final Set<String> BATCH_APIS = Set.of("openai", "anthropic", "gemini");
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(b|kb|mb|gb|kib|mib|gib)?");

    private final String file;

    BatchReader(String file) {
        this.file = file;
    }

    BatchSpec read(JsonNode root, Map<String, ProviderSpec> providers, Map<String, List<DeploymentSpec>> groups) {
        Map<String, BatchSpec.Provider> blocks = new LinkedHashMap<>();
        JsonNode providersNode = root.get("providers");
        for (ProviderSpec p : providers.values()) {
            JsonNode block = providersNode == null ? null : providersNode.path(p.name()).get("batch");
            if (!absent(block)) {
                blocks.put(p.name(), provider("providers." + p.name() + ".batch", block, p));
            }
        }
        Map<String, Price> prices = new LinkedHashMap<>();
        JsonNode models = root.get("models");
        Map<String, Integer> seen = new LinkedHashMap<>();
        for (int i = 0; models != null && models.isArray() && i < models.size(); i++) {
            JsonNode node = models.get(i);
            String name = node.path("name").asText().trim();
            int index = seen.merge(name, 1, Integer::sum) - 1;
            DeploymentSpec d = groups.getOrDefault(name, List.of()).get(index);
            String entry = "models[" + i + "] (" + name + ")";
            Price price = price(entry, node, d);
            if (price != null) {
                prices.put(d.id(), price);
            }
        }
        return new BatchSpec(Collections.unmodifiableMap(blocks), Collections.unmodifiableMap(prices));
    }

    private BatchSpec.Provider provider(String entry, JsonNode block, ProviderSpec p) {
        if (block.isBoolean()) {
            block = io.caravan.util.Json.object().put("enabled", block.asBoolean());
        }
        if (!block.isObject()) {
            throw fail(entry, "must be a mapping (enabled, max_requests, max_bytes, window, min_slack, poll, collect)");
        }
        block.fieldNames().forEachRemaining(f -> {
            if (!BATCH_FIELDS.contains(f)) {
                throw fail(entry, "unknown field '" + f + "' (expected "
                        + String.join(", ", new java.util.TreeSet<>(BATCH_FIELDS)) + ")");
            }
        });
        JsonNode e = block.get("enabled");
        boolean enabled = true;
        if (!absent(e)) {
            if (!e.isBoolean() && !e.asText().matches("true|false")) {
                throw fail(entry, "enabled: must be true or false, got '" + e.asText() + "'");
            }
            enabled = e.asBoolean() || "true".equals(e.asText());
        }
        if (enabled && !BATCH_APIS.contains(p.api())) {
            throw fail(entry, "api '" + p.api() + "' has no batch API (batches work with "
                    + String.join(", ", new java.util.TreeSet<>(BATCH_APIS)) + ")");
        }
        int maxRequests = BatchSpec.Provider.DEFAULT_MAX_REQUESTS;
        JsonNode mr = block.get("max_requests");
        if (!absent(mr)) {
            if (!mr.isIntegralNumber() || mr.asLong() < 1 || mr.asLong() > Integer.MAX_VALUE) {
                throw fail(entry, "max_requests: must be a whole number greater than 0, got '" + mr.asText() + "'");
            }
            maxRequests = mr.asInt();
        }
        long maxBytes = BatchSpec.Provider.DEFAULT_MAX_BYTES;
        JsonNode mb = block.get("max_bytes");
        if (!absent(mb)) {
            maxBytes = size(entry, mb);
        }
        Duration window = duration(entry, block, "window", BatchSpec.Provider.DEFAULT_WINDOW);
        Duration minSlack = duration(entry, block, "min_slack", window);
        Duration poll = duration(entry, block, "poll", BatchSpec.Provider.DEFAULT_POLL);
        Duration collect = duration(entry, block, "collect", BatchSpec.Provider.DEFAULT_COLLECT);
        return new BatchSpec.Provider(enabled, maxRequests, maxBytes, window, minSlack, poll, collect);
    }

    private Price price(String entry, JsonNode node, DeploymentSpec d) {
        JsonNode price = node.get("price");
        JsonNode discount = node.get("batch_discount");
        boolean own = price != null && price.isObject()
                && (price.has("batch_input") || price.has("batch_output") || price.has("batch_cached_input"));
        if (own && !absent(discount)) {
            throw fail(entry, "give price.batch_* or batch_discount, not both");
        }
        if (own) {
            Double in = number(entry + ".price", price, "batch_input");
            Double cached = number(entry + ".price", price, "batch_cached_input");
            Double out = number(entry + ".price", price, "batch_output");
            if (in == null || out == null) {
                throw fail(entry + ".price", "batch_input and batch_output go together");
            }
            return new Price(in, cached, out);
        }
        if (!absent(discount)) {
            Double f = number(entry, node, "batch_discount");
            if (f == null || f <= 0 || f > 1) {
                throw fail(entry, "batch_discount: must be a fraction of the online price above 0 and at most 1, got "
                        + discount.asText());
            }
            return BatchSpec.discounted(d.price(), f);
        }
        return null;
    }

    private Double number(String entry, JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (absent(v)) {
            return null;
        }
        double value;
        if (v.isNumber()) {
            value = v.asDouble();
        } else {
            try {
                value = Double.parseDouble(v.asText().trim());
            } catch (NumberFormatException e) {
                throw fail(entry, field + ": must be a number, got '" + v.asText() + "'");
            }
        }
        if (!Double.isFinite(value) || value < 0) {
            throw fail(entry, field + ": must be a number not below 0, got " + v.asText());
        }
        return value;
    }

    private long size(String entry, JsonNode v) {
        if (v.isIntegralNumber() && v.asLong() > 0) {
            return v.asLong();
        }
        Matcher m = SIZE.matcher(v.asText().trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw fail(entry, "max_bytes: must be a size such as 200MB or 104857600, got '" + v.asText() + "'");
        }
        double n = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "b" : m.group(2);
        long factor = switch (unit) {
            case "kb", "kib" -> 1024L;
            case "mb", "mib" -> 1024L * 1024;
            case "gb", "gib" -> 1024L * 1024 * 1024;
            default -> 1L;
        };
        long bytes = Math.round(n * factor);
        if (bytes < 1) {
            throw fail(entry, "max_bytes: must be greater than 0");
        }
        return bytes;
    }

    private Duration duration(String entry, JsonNode block, String field, Duration fallback) {
        JsonNode v = block.get(field);
        if (absent(v)) {
            return fallback;
        }
        String text = v.asText().trim();
        Duration d;
        try {
            d = text.endsWith("d") ? Duration.ofMillis(Math.round(
                    Double.parseDouble(text.substring(0, text.length() - 1)) * 86_400_000d)) : Durations.parse(text);
        } catch (RuntimeException e) {
            throw fail(entry, field + ": bad duration '" + text + "' (expected e.g. 30s, 5m, 24h, 1d)");
        }
        if (d.isZero() && !field.equals("min_slack")) {
            throw fail(entry, field + ": must be greater than 0");
        }
        return d;
    }

    private static boolean absent(JsonNode node) {
        return node == null || node.isNull() || node.isMissingNode();
    }

    private CatalogException fail(String entry, String problem) {
        return new CatalogException(file, entry, problem.replaceAll("\\s*[\\r\\n]+\\s*", " "));
    }
}
