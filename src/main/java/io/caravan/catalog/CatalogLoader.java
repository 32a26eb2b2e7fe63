package io.caravan.catalog;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderAdapters;
import io.caravan.util.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Reads {@code catalog.yaml} into a validated {@link Catalog}: parses and expands the file, then hands each block to
 * its reader (providers, models, fallbacks, tiers, routing, circuit breaker, budgets, shaping, tenants, batches) and
 * cross-checks what one block says of another.
 *
 * <p>Every string value is expanded first ({@code ${VAR}}, {@code ${VAR:-default}}); then the blocks are read
 * and cross-checked. Any problem throws a {@link CatalogException} whose message is one line naming the file,
 * the entry and the problem, so start-up and {@code caravan check} can print it as is. Soft problems (a
 * deployment without a price, a provider without keys) are warnings: logged, and handed to an optional
 * listener so {@code caravan check} can show them too.
 */
public final class CatalogLoader {

    /** Top-level blocks that later features read; tolerated silently now. Other unknown blocks get a warning. */
    static final Set<String> FUTURE_BLOCKS = Set.of("cache", "escalation");

    static final Set<String> TOP_LEVEL = Set.of("providers", "models", "fallbacks",
            "context_window_fallbacks", "content_filter_fallbacks", "tiers", "default_tier", "routing", "circuit_breaker",
            "budgets", "groups", "tenants");

    private static final Pattern VAR = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?}");

    private static final YAMLMapper YAML = YAMLMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private CatalogLoader() {}

    /** Loads and validates {@code file}, expanding variables from the process environment. */
    public static Catalog load(Path file) {
        return load(file, System.getenv());
    }

    /** Loads and validates {@code file}, expanding variables from {@code env}. */
    public static Catalog load(Path file, Map<String, String> env) {
        return load(file, env, warning -> {});
    }

    /**
     * Loads and validates {@code file}, expanding variables from {@code env}; every warning is logged and also
     * given to {@code warnings} (one line each, never holding a key).
     */
    public static Catalog load(Path file, Map<String, String> env, Consumer<String> warnings) {
        return new Reader(file.toString(), env == null ? Map.of() : env, warnings).read(file);
    }

    /**
     * Expands {@code ${VAR}} and {@code ${VAR:-default}} from {@code env}. An unset {@code ${VAR}} becomes empty;
     * the default applies when the variable is unset or empty (as in a POSIX shell).
     */
    public static String expand(String text, Map<String, String> env) {
        if (text == null || text.indexOf("${") < 0) {
            return text;
        }
        Matcher m = VAR.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = env.get(m.group(1));
            if ((value == null || value.isEmpty()) && m.group(2) != null) {
                value = m.group(2);
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value == null ? "" : value));
        }
        m.appendTail(out);
        return out.toString();
    }

    /**
     * One load: the file name for messages, the environment and the warning sink. It parses and expands the file,
     * then hands each block to its reader ({@code ProvidersReader}, {@code ModelsReader}, ...) and cross-checks.
     */
    private static final class Reader extends BlockReader {

        private final Map<String, String> env;

        Reader(String file, Map<String, String> env, Consumer<String> warnings) {
            super(file, warnings);
            this.env = env;
        }

        Catalog read(Path path) {
            JsonNode raw = parse(path);
            JsonNode root = expandTree(raw);
            if (root == null || !root.isObject()) {
                throw fail("document", root == null || root.isMissingNode() || root.isNull()
                        ? "empty file (expected a mapping with providers: and models:)"
                        : "not a mapping (expected providers:, models:, ...)");
            }
            for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (!TOP_LEVEL.contains(key) && !FUTURE_BLOCKS.contains(key)) {
                    warn("ignoring unknown top-level block '" + key + "'");
                }
            }

            Map<String, ProviderSpec> providers = new ProvidersReader(file, warnings).read(root.get("providers"));
            Map<String, List<DeploymentSpec>> groups = new ModelsReader(file, warnings)
                    .read(root.get("models"), providers);
            FallbacksReader fallbackChains = new FallbacksReader(file, warnings);
            Map<String, List<String>> fallbacks = fallbackChains.read(root, "fallbacks", groups);
            Map<String, List<String>> cwFallbacks = fallbackChains.read(root, "context_window_fallbacks", groups);
            Map<String, List<String>> cfFallbacks = fallbackChains.read(root, "content_filter_fallbacks", groups);
            TiersReader tierReader = new TiersReader(file, warnings);
            Map<String, TierSpec> tiers = tierReader.read(root.get("tiers"), groups);
            String defaultTier = tierReader.defaultTier(root.get("default_tier"), tiers);
            RoutingSpec routing = new RoutingReader(file, warnings).read(root.get("routing"), tiers);
            CircuitBreakerSpec breaker = new CircuitBreakerReader(file, warnings).read(root.get("circuit_breaker"));
            BudgetsReader budgetReader = new BudgetsReader(file, warnings);
            BudgetSpec budgets = budgetReader.read(root.get("budgets"), tiers);
            ShapingSpec shaping = new ShapingReader(file).read(root, groups, tiers);
            Map<String, TenantSpec> tenants = new TenantsReader(file, env, this::warn)
                    .read(raw == null || !raw.isObject() ? null : raw.get("tenants"), tiers, groups.keySet());
            budgets = budgetReader.withTenantBudgets(budgets, tenants);
            BatchSpec batches = new BatchReader(file).read(root, providers, groups);

            for (ProviderSpec p : providers.values()) {
                boolean used = groups.values().stream().flatMap(List::stream)
                        .anyMatch(d -> d.provider().equals(p.name()));
                if (!used) {
                    warn("providers." + p.name() + ": not used by any deployment");
                } else if (p.apiKeys().isEmpty()
                        && ProviderAdapters.forProvider(p).credentials(p) == ProviderAdapter.Credentials.KEYS) {
                    warn("providers." + p.name() + ": no API keys: its deployments are left out of every plan");
                }
            }

            return new Catalog(file, frozen(providers), frozen(groups), frozen(fallbacks), frozen(cwFallbacks),
                    frozen(tiers), defaultTier, routing, breaker, budgets, shaping, frozen(cfFallbacks), tenants,
                    batches);
        }

        // ---- parsing and expansion -------------------------------------------------------------------------

        private JsonNode parse(Path path) {
            String text;
            try {
                text = Files.readString(path);
            } catch (NoSuchFileException e) {
                throw fail("file", "not found");
            } catch (IOException e) {
                throw fail("file", "cannot read (" + e.getClass().getSimpleName() + ")");
            }
            try {
                return YAML.readTree(text);
            } catch (JsonProcessingException e) {
                throw fail("document", "not valid YAML" + yamlProblem(e));
            }
        }

        /**
         * Where and what, without the parser's quoted snippet of the file: that snippet is the offending line,
         * which may hold a literal key.
         */
        private static String yamlProblem(JsonProcessingException e) {
            if (e.getCause() instanceof MarkedYAMLException m && m.getProblemMark() != null) {
                String context = m.getContext() == null || m.getContextMark() == null ? ""
                        : " (" + m.getContext() + " at line " + (m.getContextMark().getLine() + 1) + ", column "
                                + (m.getContextMark().getColumn() + 1) + ")";
                return " at line " + (m.getProblemMark().getLine() + 1) + ", column "
                        + (m.getProblemMark().getColumn() + 1) + ": " + m.getProblem() + context;
            }
            String where = e.getLocation() == null ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            return where + ": " + e.getOriginalMessage();
        }

        private JsonNode expandTree(JsonNode node) {
            if (node == null) {
                return null;
            }
            if (node.isTextual()) {
                return JsonNodeFactory.instance.textNode(expand(node.asText(), env));
            }
            if (node.isObject()) {
                ObjectNode copy = Json.object();
                node.fields().forEachRemaining(e -> copy.set(e.getKey(), expandTree(e.getValue())));
                return copy;
            }
            if (node.isArray()) {
                ArrayNode copy = Json.array();
                node.forEach(item -> copy.add(expandTree(item)));
                return copy;
            }
            return node;
        }

        private static <K, V> Map<K, V> frozen(Map<K, V> map) {
            return Collections.unmodifiableMap(new LinkedHashMap<>(map));
        }
    }
}
