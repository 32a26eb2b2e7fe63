package io.caravan.catalog;

import io.caravan.util.Durations;

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
import io.caravan.util.Redaction;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.slf4j.LoggerFactory;

/**
 * Reads {@code catalog.yaml} into a validated {@link Catalog}.
 *
 * <p>Every string value is expanded first ({@code ${VAR}}, {@code ${VAR:-default}}); then the blocks are read
 * and cross-checked. Any problem throws a {@link CatalogException} whose message is one line naming the file,
 * the entry and the problem, so start-up and {@code caravan check} can print it as is. Soft problems (a
 * deployment without a price, a provider without keys) are warnings: logged, and handed to an optional
 * listener so {@code caravan check} can show them too.
 */
public final class CatalogLoader {

    private static final Logger LOG = LoggerFactory.getLogger(CatalogLoader.class);

    /** Top-level blocks that later features read; tolerated silently now. Other unknown blocks get a warning. */
    static final Set<String> FUTURE_BLOCKS = Set.of("cache", "escalation");

    static final Set<String> TOP_LEVEL = Set.of("providers", "models", "fallbacks",
            "context_window_fallbacks", "content_filter_fallbacks", "tiers", "default_tier", "routing", "circuit_breaker",
            "budgets", "groups", "tenants");
    private static final Set<String> PROVIDER_FIELDS = Set.of("api", "base_url", "api_keys", "api_key", "headers",
            "timeout", "retries", "backoff", "rpm", "tpm", "max_response_bytes", "batch");
    private static final Set<String> DEPLOYMENT_FIELDS = Set.of("name", "provider", "model", "context_window",
            "max_output_tokens", "price", "weight", "batch_discount");
    private static final Set<String> PRICE_FIELDS = Set.of("input", "cached_input", "output",
            "batch_input", "batch_cached_input", "batch_output");
    private static final Set<String> RESERVED_GROUPS = Set.of("auto");

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

    /** One load: the file name for messages, the environment and the warning sink. */
    private static final class Reader {

        private final String file;
        private final Map<String, String> env;
        private final Consumer<String> warnings;

        Reader(String file, Map<String, String> env, Consumer<String> warnings) {
            this.file = file;
            this.env = env;
            this.warnings = warnings;
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

            Map<String, ProviderSpec> providers = readProviders(root.get("providers"));
            Map<String, List<DeploymentSpec>> groups = readModels(root.get("models"), providers);
            Map<String, List<String>> fallbacks = readFallbacks(root, "fallbacks", groups);
            Map<String, List<String>> cwFallbacks = readFallbacks(root, "context_window_fallbacks", groups);
            Map<String, List<String>> cfFallbacks = readFallbacks(root, "content_filter_fallbacks", groups);
            Map<String, TierSpec> tiers = readTiers(root.get("tiers"), groups);
            String defaultTier = readDefaultTier(root.get("default_tier"), tiers);
            RoutingSpec routing = readRouting(root.get("routing"), tiers);
            CircuitBreakerSpec breaker = readBreaker(root.get("circuit_breaker"));
            BudgetSpec budgets = readBudgets(root.get("budgets"), tiers);
            ShapingSpec shaping = new ShapingReader(file).read(root, groups, tiers);
            Map<String, TenantSpec> tenants = new TenantsReader(file, env, this::warn)
                    .read(raw == null || !raw.isObject() ? null : raw.get("tenants"), tiers, groups.keySet());
            budgets = withTenantBudgets(budgets, tenants);
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

        // ---- blocks ------------------------------------------------------------------------------------------

        private Map<String, ProviderSpec> readProviders(JsonNode block) {
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

        private Map<String, List<DeploymentSpec>> readModels(JsonNode block, Map<String, ProviderSpec> providers) {
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

        private Map<String, List<String>> readFallbacks(JsonNode root, String blockName,
                Map<String, List<DeploymentSpec>> groups) {
            JsonNode block = root.get(blockName);
            Map<String, List<String>> edges = new LinkedHashMap<>();
            if (absent(block)) {
                return edges;
            }
            requireMapping(block, blockName);
            block.fields().forEachRemaining(e -> {
                String from = e.getKey();
                if (!groups.containsKey(from)) {
                    throw fail(blockName, "unknown group '" + from + "'");
                }
                String entry = blockName + "." + from;
                List<String> targets = new ArrayList<>();
                for (String to : strings(e.getValue(), entry)) {
                    if (!groups.containsKey(to)) {
                        throw fail(entry, "unknown group '" + to + "'");
                    }
                    if (!targets.contains(to)) {
                        targets.add(to);
                    }
                }
                edges.put(from, List.copyOf(targets));
            });
            List<String> cycle = findCycle(edges);
            if (cycle != null) {
                throw fail(blockName, "cycle " + String.join(" -> ", cycle));
            }
            return edges;
        }

        /** The first cycle in file order, as a path whose last element repeats the first, or null. */
        static List<String> findCycle(Map<String, List<String>> edges) {
            Set<String> done = new LinkedHashSet<>();
            for (String start : edges.keySet()) {
                List<String> cycle = dfs(start, edges, new ArrayList<>(), done);
                if (cycle != null) {
                    return cycle;
                }
            }
            return null;
        }

        private static List<String> dfs(String node, Map<String, List<String>> edges, List<String> path,
                Set<String> done) {
            int at = path.indexOf(node);
            if (at >= 0) {
                List<String> cycle = new ArrayList<>(path.subList(at, path.size()));
                cycle.add(node);
                return cycle;
            }
            if (done.contains(node)) {
                return null;
            }
            path.add(node);
            for (String next : edges.getOrDefault(node, List.of())) {
                List<String> cycle = dfs(next, edges, path, done);
                if (cycle != null) {
                    return cycle;
                }
            }
            path.remove(path.size() - 1);
            done.add(node);
            return null;
        }

        private Map<String, TierSpec> readTiers(JsonNode block, Map<String, List<DeploymentSpec>> groups) {
            Map<String, TierSpec> tiers = new LinkedHashMap<>();
            if (absent(block)) {
                return tiers;
            }
            requireMapping(block, "tiers");
            Double[] previous = {null};
            String[] previousName = {null};
            block.fields().forEachRemaining(e -> {
                String name = e.getKey();
                String entry = "tiers." + name;
                JsonNode node = e.getValue();
                String group;
                Double maxScore = null;
                if (node != null && node.isTextual()) {
                    group = node.asText();  // shorthand: `fast: qwen-max`
                } else {
                    if (absent(node)) {
                        throw fail(entry, "tier without group (no 'model')");
                    }
                    requireMapping(node, entry);
                    group = text(node, "model", entry);
                    maxScore = number(node, "max_score", entry);
                }
                if (group == null || group.isBlank()) {
                    throw fail(entry, "tier without group (no 'model')");
                }
                group = group.trim();
                if (!groups.containsKey(group)) {
                    throw fail(entry, "unknown group '" + group + "'");
                }
                if (maxScore != null) {
                    if (previous[0] != null && maxScore <= previous[0]) {
                        throw fail(entry, "max_score " + maxScore + " must be above the cheaper tier "
                                + previousName[0] + "'s " + previous[0] + " (tiers go cheapest first)");
                    }
                    previous[0] = maxScore;
                    previousName[0] = name;
                }
                tiers.put(name, new TierSpec(name, group, maxScore));
            });
            return tiers;
        }

        private String readDefaultTier(JsonNode node, Map<String, TierSpec> tiers) {
            if (absent(node) || node.asText().isBlank()) {
                if (tiers.isEmpty()) {
                    return null;
                }
                return tiers.containsKey("balanced") ? "balanced" : tiers.keySet().iterator().next();
            }
            if (!node.isValueNode()) {
                throw fail("default_tier", "must be a tier name");
            }
            String name = node.asText().trim();
            if (!tiers.containsKey(name)) {
                throw fail("default_tier", "unknown tier '" + name + "'");
            }
            return name;
        }

        private RoutingSpec readRouting(JsonNode block, Map<String, TierSpec> tiers) {
            if (absent(block)) {
                return RoutingSpec.DEFAULT;
            }
            requireMapping(block, "routing");
            Map<String, List<String>> keywords = new LinkedHashMap<>();
            JsonNode kw = block.get("keywords");
            if (!absent(kw)) {
                requireMapping(kw, "routing.keywords");
                kw.fields().forEachRemaining(e -> {
                    if (!tiers.containsKey(e.getKey())) {
                        throw fail("routing.keywords", "unknown tier '" + e.getKey() + "'");
                    }
                    keywords.put(e.getKey(), strings(e.getValue(), "routing.keywords." + e.getKey()));
                });
            }
            double agent = RoutingSpec.DEFAULT.agentWeight();
            double task = RoutingSpec.DEFAULT.taskWeight();
            JsonNode sw = block.get("score_weights");
            if (!absent(sw)) {
                requireMapping(sw, "routing.score_weights");
                Double a = number(sw, "agent", "routing.score_weights");
                Double t = number(sw, "task", "routing.score_weights");
                agent = a == null ? agent : a;
                task = t == null ? task : t;
                if (agent + task == 0) {
                    throw fail("routing.score_weights", "agent and task cannot both be 0");
                }
            }
            return new RoutingSpec(Collections.unmodifiableMap(keywords), agent, task,
                    paramsPassthrough(block.get("params_passthrough")));
        }

        /** Task params passed on verbatim beyond the contract's list: names only, never the request's own fields. */
        private Set<String> paramsPassthrough(JsonNode node) {
            Set<String> names = new java.util.TreeSet<>();
            for (String name : strings(node, "routing.params_passthrough")) {
                if (!name.matches("[A-Za-z_][A-Za-z0-9_]{0,63}")) {
                    throw fail("routing.params_passthrough", "'" + name + "' is not a parameter name");
                }
                if (Set.of("model", "messages", "stream", "stream_options").contains(name)) {
                    throw fail("routing.params_passthrough", "'" + name + "' is set by Caravan, not passed through");
                }
                names.add(name);
            }
            return Set.copyOf(names);
        }

        private CircuitBreakerSpec readBreaker(JsonNode block) {
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

        private BudgetSpec readBudgets(JsonNode block, Map<String, TierSpec> tiers) {
            if (absent(block)) {
                return BudgetSpec.NONE;
            }
            requireMapping(block, "budgets");
            Map<String, Double> byTier = amounts(block.get("tiers"), "budgets.tiers");
            for (String tier : byTier.keySet()) {
                if (!tiers.containsKey(tier)) {
                    throw fail("budgets.tiers", "unknown tier '" + tier + "'");
                }
            }
            Map<String, Double> byTenant = amounts(block.get("tenants"), "budgets.tenants");
            String onExceed = BudgetSpec.NONE.onExceed();
            JsonNode oe = block.get("on_exceed");
            if (!absent(oe)) {
                onExceed = oe.asText().trim();
                if (!onExceed.equals("downgrade") && !onExceed.equals("reject")) {
                    throw fail("budgets.on_exceed", "must be downgrade or reject, got '" + oe.asText() + "'");
                }
            }
            return new BudgetSpec(byTier, byTenant, onExceed);
        }

        /** A tenant's {@code budget} is its monthly budget; {@code budgets.tenants} still names the others. */
        private BudgetSpec withTenantBudgets(BudgetSpec budgets, Map<String, TenantSpec> tenants) {
            Map<String, Double> byTenant = new LinkedHashMap<>(budgets.tenants());
            for (TenantSpec t : tenants.values()) {
                if (t.budget() == null) {
                    continue;
                }
                if (byTenant.containsKey(t.name())) {
                    throw fail("tenants." + t.name() + ".budget", "also set in budgets.tenants: keep one");
                }
                byTenant.put(t.name(), t.budget());
            }
            return byTenant.equals(budgets.tenants()) ? budgets
                    : new BudgetSpec(budgets.tiers(), Collections.unmodifiableMap(byTenant), budgets.onExceed());
        }

        private Map<String, Double> amounts(JsonNode node, String entry) {
            Map<String, Double> out = new LinkedHashMap<>();
            if (absent(node)) {
                return Collections.unmodifiableMap(out);
            }
            requireMapping(node, entry);
            node.fieldNames().forEachRemaining(k -> out.put(k, number(node, k, entry)));
            out.values().removeIf(v -> v == null);
            return Collections.unmodifiableMap(out);
        }

        // ---- small readers -----------------------------------------------------------------------------------

        private String text(JsonNode node, String field, String entry) {
            JsonNode v = node.get(field);
            if (absent(v)) {
                return null;
            }
            if (!v.isValueNode()) {
                throw fail(entry, field + ": must be a plain value, not a " + (v.isArray() ? "list" : "mapping"));
            }
            return v.asText();
        }

        private List<String> strings(JsonNode node, String entry) {
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
        private Double number(JsonNode node, String field, String entry) {
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

        private Integer integer(JsonNode node, String field, String entry) {
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
        private Long bytes(JsonNode node, String field, String entry) {
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

        private Integer positive(Integer value, String entry, String field) {
            if (value != null && value == 0) {
                throw fail(entry, field + ": must be greater than 0");
            }
            return value;
        }

        private Duration duration(JsonNode node, String field, String entry, Duration fallback) {
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

        private void requireMapping(JsonNode node, String entry) {
            if (node == null || !node.isObject()) {
                throw fail(entry, "must be a mapping");
            }
        }

        private static boolean absent(JsonNode node) {
            return node == null || node.isNull() || node.isMissingNode();
        }

        private static List<String> apis() {
            return new ArrayList<>(ProviderAdapters.apis());
        }

        private void warn(String message) {
            String line = Redaction.redact(file + ": " + oneLine(message));
            LOG.warn(line);
            warnings.accept(line);
        }

        private CatalogException fail(String entry, String problem) {
            return new CatalogException(file, oneLine(entry), oneLine(problem));
        }

        private static String oneLine(String s) {
            String flat = s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
            return flat.length() > 300 ? flat.substring(0, 297) + "..." : flat;
        }

        private static <K, V> Map<K, V> frozen(Map<K, V> map) {
            return Collections.unmodifiableMap(new LinkedHashMap<>(map));
        }
    }
}
