package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.util.Json;
import java.time.Duration;
import java.util.function.Consumer;

/** Reads and validates the catalog's {@code circuit_breaker} block. */
final class CircuitBreakerReader extends BlockReader {

    CircuitBreakerReader(String file, Consumer<String> warnings) {
        super(file, warnings);
    }

    CircuitBreakerSpec read(JsonNode block) {
        CircuitBreakerSpec d = CircuitBreakerSpec.DEFAULT;
        if (absent(block)) {
            return d;
        }
        String entry = "circuit_breaker";
        requireMapping(block, entry);
        JsonNode rateNode = block.get("failure_rate");
        Double rate;
        if (rateNode != null && rateNode.isTextual() && rateNode.asText().trim().endsWith("%")) {
            ObjectNode tmp = Json.object();
            String t = rateNode.asText().trim();
            tmp.put("failure_rate", t.substring(0, t.length() - 1).trim());
            rate = number(tmp, "failure_rate", entry);
        } else {
            rate = number(block, "failure_rate", entry);
        }
        if (rate != null && (rate <= 0 || rate > 100)) {
            throw fail(entry, "failure_rate must be a percentage above 0 and at most 100, got " + rate);
        }
        Integer window = positive(integer(block, "window", entry), entry, "window");
        Integer minimum = positive(integer(block, "minimum_calls", entry), entry, "minimum_calls");
        Duration openFor = duration(block, "open_for", entry, d.openFor());
        Integer halfOpen = positive(integer(block, "half_open_calls", entry), entry, "half_open_calls");
        return new CircuitBreakerSpec(rate == null ? d.failureRate() : rate.floatValue(),
                window == null ? d.window() : window, minimum == null ? d.minimumCalls() : minimum,
                openFor, halfOpen == null ? d.halfOpenCalls() : halfOpen);
    }
}
