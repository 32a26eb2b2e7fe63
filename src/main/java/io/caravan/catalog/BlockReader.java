package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.util.Durations;
import io.caravan.util.Json;
import io.caravan.util.Redaction;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the readers of the catalog's blocks share: the file name for messages, the warning sink, and the small
 * readers of one field (text, number, duration, ...) whose problems are one line naming the file, entry and field.
 */
abstract class BlockReader {

    private static final Logger LOG = LoggerFactory.getLogger(CatalogLoader.class);

    final String file;
    final Consumer<String> warnings;

    BlockReader(String file, Consumer<String> warnings) {
        this.file = file;
        this.warnings = warnings;
    }

    String text(JsonNode node, String field, String entry) {
        JsonNode v = node.get(field);
        if (absent(v)) {
            return null;
        }
        if (!v.isValueNode()) {
            throw fail(entry, field + ": must be a plain value, not a " + (v.isArray() ? "list" : "mapping"));
        }
        return v.asText();
    }

    List<String> strings(JsonNode node, String entry) {
        List<String> out = new ArrayList<>();
        if (absent(node)) {
            return List.of();
        }
        if (node.isValueNode()) {
            node = Json.array().add(node);
        }
        if (!node.isArray()) {
            throw fail(entry, "must be a list");
        }
        for (JsonNode item : node) {
            if (!item.isValueNode()) {
                throw fail(entry, "must be a list of plain values");
            }
            String s = item.asText().trim();
            if (!s.isEmpty()) {
                out.add(s);
            }
        }
        return List.copyOf(out);
    }

    /** A non-negative number, or null when absent; numeric text (e.g. from {@code ${VAR:-60}}) counts. */
    Double number(JsonNode node, String field, String entry) {
        JsonNode v = node.get(field);
        if (absent(v) || (v.isTextual() && v.asText().isBlank())) {
            return null;
        }
        double value;
        if (v.isNumber()) {
            value = v.doubleValue();
        } else if (v.isTextual()) {
            try {
                value = Double.parseDouble(v.asText().trim());
            } catch (NumberFormatException e) {
                throw fail(entry, field + ": not a number: '" + v.asText() + "'");
            }
        } else {
            throw fail(entry, field + ": not a number");
        }
        if (Double.isNaN(value) || Double.isInfinite(value)) {
            throw fail(entry, field + ": not a number: '" + v.asText() + "'");
        }
        if (value < 0) {
            throw fail(entry, field + ": must not be negative, got " + v.asText());
        }
        return value;
    }

    Integer integer(JsonNode node, String field, String entry) {
        Double value = number(node, field, entry);
        if (value == null) {
            return null;
        }
        if (value != Math.rint(value) || value > Integer.MAX_VALUE) {
            throw fail(entry, field + ": must be a whole number, got " + node.get(field).asText());
        }
        return value.intValue();
    }

    /** A size in bytes, a whole number greater than 0; null when absent. */
    Long bytes(JsonNode node, String field, String entry) {
        Double value = number(node, field, entry);
        if (value == null) {
            return null;
        }
        if (value != Math.rint(value) || value > Long.MAX_VALUE) {
            throw fail(entry, field + ": must be a whole number of bytes, got " + node.get(field).asText());
        }
        if (value == 0) {
            throw fail(entry, field + ": must be greater than 0");
        }
        return value.longValue();
    }

    Integer positive(Integer value, String entry, String field) {
        if (value != null && value == 0) {
            throw fail(entry, field + ": must be greater than 0");
        }
        return value;
    }

    Duration duration(JsonNode node, String field, String entry, Duration fallback) {
        JsonNode v = node.get(field);
        if (absent(v) || (v.isTextual() && v.asText().isBlank())) {
            return fallback;
        }
        if (v.isNumber()) {
            if (v.doubleValue() < 0) {
                throw fail(entry, field + ": must not be negative, got " + v.asText());
            }
            return Durations.parse(v.asText());
        }
        if (!v.isTextual()) {
            throw fail(entry, field + ": bad duration (expected e.g. 500ms, 30s, 2m, 1h)");
        }
        String t = v.asText().trim();
        if (t.startsWith("-")) {
            throw fail(entry, field + ": must not be negative, got '" + t + "'");
        }
        try {
            return Durations.parse(t);
        } catch (IllegalArgumentException e) {
            throw fail(entry, field + ": " + e.getMessage());
        }
    }

    void onlyFields(JsonNode node, String entry, java.util.Set<String> allowed) {
        node.fieldNames().forEachRemaining(f -> {
            if (!allowed.contains(f)) {
                throw fail(entry, "unknown field '" + f + "' (expected "
                        + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
            }
        });
    }

    void requireMapping(JsonNode node, String entry) {
        if (node == null || !node.isObject()) {
            throw fail(entry, "must be a mapping");
        }
    }

    static boolean absent(JsonNode node) {
        return node == null || node.isNull() || node.isMissingNode();
    }

    void warn(String message) {
        String line = Redaction.redact(file + ": " + oneLine(message));
        LOG.warn(line);
        warnings.accept(line);
    }

    CatalogException fail(String entry, String problem) {
        return new CatalogException(file, oneLine(entry), oneLine(problem));
    }

    static String oneLine(String s) {
        String flat = s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
        return flat.length() > 300 ? flat.substring(0, 297) + "..." : flat;
    }
}
