package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderAdapters;
import io.caravan.util.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/** Reads and validates the catalog's {@code providers} block: api, base URL, keys, headers, timing, limits. */
final class ProvidersReader extends BlockReader {

    private static final Set<String> PROVIDER_FIELDS = Set.of("api", "base_url", "api_keys", "api_key", "headers",
            "timeout", "retries", "backoff", "rpm", "tpm", "max_response_bytes", "batch");

    ProvidersReader(String file, Consumer<String> warnings) {
        super(file, warnings);
    }

    Map<String, ProviderSpec> read(JsonNode block) {
        if (absent(block) || (block.isObject() && block.isEmpty())) {
            throw fail("providers", "missing (at least one provider is needed)");
        }
        requireMapping(block, "providers");
        Map<String, ProviderSpec> providers = new LinkedHashMap<>();
        block.fields().forEachRemaining(e -> providers.put(e.getKey(), readProvider(e.getKey(), e.getValue())));
        return providers;
    }

    private ProviderSpec readProvider(String name, JsonNode node) {
        String entry = "providers." + name;
        requireMapping(node, entry);
        String api = text(node, "api", entry);
        if (api == null || api.isBlank()) {
            throw fail(entry, "missing api (" + String.join(" | ", apis()) + ")");
        }
        api = api.trim();
        if (!ProviderAdapters.supports(api)) {
            throw fail(entry, "unknown api '" + api + "' (expected one of " + String.join(", ", apis()) + ")");
        }
        String baseUrl = text(node, "base_url", entry);
        if (baseUrl != null) {
            baseUrl = baseUrl.trim();
            while (baseUrl.endsWith("/")) {
                baseUrl = baseUrl.substring(0, baseUrl.length() - 1);
            }
        }
        if (baseUrl == null || baseUrl.isEmpty()) {
            baseUrl = null; // the adapter decides below whether it needs one
        } else if (!baseUrl.startsWith("http://") && !baseUrl.startsWith("https://")) {
            throw fail(entry, "base_url must start with http:// or https://, got '" + baseUrl + "'");
        }

        List<String> keys = new ArrayList<>();
        for (String field : List.of("api_keys", "api_key")) {
            JsonNode k = node.get(field);
            if (absent(k)) {
                continue;
            }
            List<JsonNode> items = new ArrayList<>();
            if (k.isArray()) {
                k.forEach(items::add);
            } else {
                items.add(k);
            }
            for (int i = 0; i < items.size(); i++) {
                JsonNode item = items.get(i);
                if (absent(item)) {
                    continue;
                }
                if (!item.isTextual()) {
                    // never quote the value: it may be a key
                    throw fail(entry, field + (k.isArray() ? "[" + i + "]" : "") + ": must be a string");
                }
                String key = item.asText().trim();
                if (!key.isEmpty()) {
                    keys.add(key);
                }
            }
        }

        Map<String, String> headers = new LinkedHashMap<>();
        JsonNode h = node.get("headers");
        if (!absent(h)) {
            requireMapping(h, entry + ".headers");
            h.fields().forEachRemaining(e -> {
                if (!e.getValue().isValueNode()) {
                    throw fail(entry + ".headers", "header '" + e.getKey() + "' must be a plain value");
                }
                headers.put(e.getKey(), e.getValue().isNull() ? "" : e.getValue().asText());
            });
        }

        Duration timeout = duration(node, "timeout", entry, ProviderSpec.DEFAULT_TIMEOUT);
        if (timeout.isZero()) {
            throw fail(entry, "timeout must be greater than 0");
        }
        Integer retries = integer(node, "retries", entry);
        Duration backoff = duration(node, "backoff", entry, ProviderSpec.DEFAULT_BACKOFF);
        Integer rpm = positive(integer(node, "rpm", entry), entry, "rpm");
        Integer tpm = positive(integer(node, "tpm", entry), entry, "tpm");
        Long maxResponseBytes = bytes(node, "max_response_bytes", entry);

        Map<String, Object> settings = new LinkedHashMap<>();
        node.fields().forEachRemaining(e -> {
            if (!PROVIDER_FIELDS.contains(e.getKey())) {
                settings.put(e.getKey(), Json.MAPPER.convertValue(e.getValue(), Object.class));
            }
        });

        ProviderSpec spec = new ProviderSpec(name, api, baseUrl, List.copyOf(keys),
                Collections.unmodifiableMap(headers), timeout,
                retries == null ? ProviderSpec.DEFAULT_RETRIES : retries, backoff, rpm, tpm,
                Collections.unmodifiableMap(settings), maxResponseBytes);
        ProviderAdapter adapter = ProviderAdapters.forProvider(spec);
        if (baseUrl == null && adapter.requiresBaseUrl(spec)) {
            throw fail(entry, "missing base_url");
        }
        for (String problem : adapter.problems(spec)) {
            throw fail(entry, problem);
        }
        return spec;
    }

    private static List<String> apis() {
        return new ArrayList<>(ProviderAdapters.apis());
    }
}
