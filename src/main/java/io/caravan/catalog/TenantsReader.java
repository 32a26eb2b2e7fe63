package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.util.Json;
import io.caravan.util.Sha256;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Reads and validates the catalog's {@code tenants:} block. It reads the block as written, before variables are
 * expanded: an API key is either {@code sha256:} and 64 hex digits, or exactly one {@code ${ENV}} reference
 * (hashed here, once the variable is read); anything else is refused as a plain key, with a message that never
 * holds it.
 */
final class TenantsReader extends BlockReader {

    static final String HASH_PREFIX = "sha256:";
    private static final Pattern HASH = Pattern.compile("sha256:[0-9a-fA-F]{64}");
    private static final Pattern ENV_REF = Pattern.compile("\\$\\{[A-Za-z_][A-Za-z0-9_]*}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Set<String> FIELDS = Set.of("api_keys", "budget", "rpm", "tpm", "allow", "default_tier",
            "metadata", "weight");
    private static final Set<String> ALLOW_FIELDS = Set.of("tiers", "groups");

    private final Map<String, String> env;

    TenantsReader(String file, Map<String, String> env, Consumer<String> warnings) {
        super(file, warnings);
        this.env = env;
    }

    /** The tenants of {@code block} (the unexpanded {@code tenants:} node), in file order; empty when absent. */
    Map<String, TenantSpec> read(JsonNode block, Map<String, TierSpec> tiers, Set<String> groups) {
        if (absent(block)) {
            return Map.of();
        }
        requireMapping(block, "tenants");
        Map<String, TenantSpec> out = new LinkedHashMap<>();
        Map<String, String> owners = new LinkedHashMap<>();
        block.fields().forEachRemaining(e -> {
            String name = e.getKey();
            String entry = "tenants." + name;
            if (!NAME.matcher(name).matches()) {
                throw fail(entry, "a tenant name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
            }
            JsonNode node = e.getValue();
            requireMapping(node, entry);
            onlyFields(node, entry, FIELDS);
            List<String> hashes = keys(node.get("api_keys"), entry + ".api_keys");
            for (String h : hashes) {
                String other = owners.putIfAbsent(h, name);
                if (other != null) {
                    throw fail(entry + ".api_keys", "a key is also a key of tenant '" + other + "'");
                }
            }
            Set<String> allowTiers = null;
            Set<String> allowGroups = null;
            JsonNode allow = node.get("allow");
            if (!absent(allow)) {
                requireMapping(allow, entry + ".allow");
                onlyFields(allow, entry + ".allow", ALLOW_FIELDS);
                allowTiers = names(allow.get("tiers"), entry + ".allow.tiers", tiers.keySet(), "tier");
                allowGroups = names(allow.get("groups"), entry + ".allow.groups", groups, "group");
            }
            String defaultTier = null;
            JsonNode dt = node.get("default_tier");
            if (!absent(dt)) {
                defaultTier = expanded(dt).trim();
                if (!tiers.containsKey(defaultTier)) {
                    throw fail(entry + ".default_tier", "unknown tier '" + defaultTier + "'");
                }
                if (allowTiers != null && !allowTiers.contains(defaultTier)) {
                    throw fail(entry + ".default_tier", "tier '" + defaultTier + "' is not in allow.tiers");
                }
            }
            ObjectNode metadata = Json.object();
            JsonNode md = node.get("metadata");
            if (!absent(md)) {
                requireMapping(md, entry + ".metadata");
                md.fields().forEachRemaining(f -> {
                    if (f.getKey().equals("tenant")) {
                        throw fail(entry + ".metadata", "tenant is set from the tenant's name, not here");
                    }
                    if (f.getValue().isContainerNode()) {
                        throw fail(entry + ".metadata", f.getKey() + ": must be a plain value");
                    }
                    metadata.set(f.getKey(), f.getValue().isTextual()
                            ? Json.MAPPER.getNodeFactory().textNode(expanded(f.getValue())) : f.getValue());
                });
            }
            out.put(name, new TenantSpec(name, hashes, amount(node.get("budget"), entry + ".budget"),
                    whole(node.get("rpm"), entry + ".rpm"), whole(node.get("tpm"), entry + ".tpm"),
                    allowTiers, allowGroups, defaultTier, metadata, weight(node.get("weight"), entry + ".weight")));
        });
        return Collections.unmodifiableMap(out);
    }

    private List<String> keys(JsonNode node, String entry) {
        if (absent(node)) {
            return List.of();
        }
        if (!node.isArray()) {
            throw fail(entry, "must be a list of sha256:... hashes or ${ENV} references");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode k = node.get(i);
            String text = k.isTextual() ? k.asText().trim() : "";
            String at = entry + "[" + i + "]";
            if (HASH.matcher(text).matches()) {
                out.add(text.substring(HASH_PREFIX.length()).toLowerCase(java.util.Locale.ROOT));
            } else if (ENV_REF.matcher(text).matches()) {
                String key = CatalogLoader.expand(text, env).trim();
                if (key.isEmpty()) {
                    warnings.accept(at + ": " + text + " is unset or empty; that key is left out");
                } else {
                    out.add(Sha256.hex(key));
                }
            } else {
                throw fail(at, "not a sha256: hash or an ${ENV} reference; plain keys are refused "
                        + "(caravan keys new --tenant NAME prints a key and its sha256: line)");
            }
        }
        return List.copyOf(new LinkedHashSet<>(out));
    }

    private Set<String> names(JsonNode node, String entry, Set<String> known, String what) {
        if (absent(node)) {
            return null;
        }
        if (!node.isArray()) {
            throw fail(entry, "must be a list of " + what + " names");
        }
        Set<String> out = new LinkedHashSet<>();
        for (JsonNode n : node) {
            String name = expanded(n).trim();
            if (!known.contains(name)) {
                throw fail(entry, "unknown " + what + " '" + name + "'");
            }
            out.add(name);
        }
        return Collections.unmodifiableSet(out);
    }

    private Double amount(JsonNode node, String entry) {
        if (absent(node)) {
            return null;
        }
        double v = number(node, entry);
        if (v < 0) {
            throw fail(entry, "must be 0 or more (USD per month), got " + v);
        }
        return v;
    }

    private Integer whole(JsonNode node, String entry) {
        if (absent(node)) {
            return null;
        }
        double v = number(node, entry);
        if (v < 1 || v != Math.rint(v) || v > Integer.MAX_VALUE) {
            throw fail(entry, "must be a whole number greater than 0, got " + expanded(node));
        }
        return (int) v;
    }

    private int weight(JsonNode node, String entry) {
        Integer w = whole(node, entry);
        if (w != null && w > 1000) {
            throw fail(entry, "must be at most 1000, got " + w);
        }
        return w == null ? 1 : w;
    }

    private double number(JsonNode node, String entry) {
        if (node.isNumber()) {
            return node.asDouble();
        }
        try {
            return Double.parseDouble(expanded(node).trim());
        } catch (NumberFormatException e) {
            throw fail(entry, "must be a number, got '" + expanded(node) + "'");
        }
    }

    private String expanded(JsonNode node) {
        return CatalogLoader.expand(node.asText(), env);
    }
}
