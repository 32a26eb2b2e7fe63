package io.caravan.cli;

import io.caravan.provider.ProviderAdapters;
import io.caravan.util.Durations;
import io.caravan.catalog.BudgetSpec;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogException;
import io.caravan.catalog.CatalogLoader;
import io.caravan.catalog.CircuitBreakerSpec;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.catalog.TierSpec;
import io.caravan.util.Redaction;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code caravan check}: validates the catalog and prints the routing table (tiers, groups, deployments, fallback
 * chains, keyword rules, providers with how many keys each has). A key value is never printed: providers show a
 * key count, headers show names only, settings whose name suggests a secret are masked, and so are the credentials
 * a {@code base_url} may carry ({@code user:pass@}, {@code ?api-key=}).
 */
public final class CheckCommand {

    /** Exit status for a catalog that cannot be used. */
    public static final int BAD_CATALOG = 2;

    private CheckCommand() {}

    /** Checks {@code catalogFile} with the process environment; returns 0 when usable, 2 otherwise. */
    public static int run(Path catalogFile, PrintStream out, PrintStream err) {
        return run(catalogFile, System.getenv(), out, err);
    }

    /** Like {@link #run(Path, PrintStream, PrintStream)} with an explicit environment (for tests and tools). */
    public static int run(Path catalogFile, Map<String, String> env, PrintStream out, PrintStream err) {
        List<String> warnings = new ArrayList<>();
        Catalog catalog;
        try {
            catalog = CatalogLoader.load(catalogFile, env, warnings::add);
        } catch (CatalogException e) {
            err.println(e.getMessage());
            return BAD_CATALOG;
        }
        out.print(render(catalog, warnings));
        out.flush();
        return 0;
    }

    /** The routing table as plain text. */
    public static String render(Catalog catalog, List<String> warnings) {
        StringBuilder sb = new StringBuilder();
        int deployments = catalog.deployments().size();
        sb.append("Catalog ").append(catalog.source()).append(": OK (")
                .append(plural(catalog.providers().size(), "provider")).append(", ")
                .append(plural(catalog.groups().size(), "group")).append(", ")
                .append(plural(deployments, "deployment")).append(", ")
                .append(plural(catalog.tiers().size(), "tier")).append(")\n");

        // tiers
        sb.append("\nTiers (cheapest first)\n");
        if (catalog.tiers().isEmpty()) {
            sb.append("  (none: tasks must name a group)\n");
        } else {
            Table t = new Table("tier", "max_score", "group", "");
            for (TierSpec tier : catalog.tierList()) {
                t.row(tier.name(), tier.maxScore() == null ? "-" : num(tier.maxScore()), tier.group(),
                        tier.name().equals(catalog.defaultTier()) ? "(default)" : "");
            }
            t.appendTo(sb, "  ");
            sb.append("  default tier: ").append(catalog.defaultTier()).append('\n');
        }

        // groups
        sb.append("\nGroups\n");
        for (Map.Entry<String, List<DeploymentSpec>> g : catalog.groups().entrySet()) {
            String name = g.getKey();
            List<String> usedBy = catalog.tierList().stream().filter(t -> t.group().equals(name))
                    .map(TierSpec::name).toList();
            sb.append("  ").append(name);
            if (!usedBy.isEmpty()) {
                sb.append("  [tier ").append(String.join(", ", usedBy)).append(']');
            }
            sb.append('\n');
            Table t = new Table("deployment", "provider", "provider model", "weight", "context", "max out",
                    "price in/cached/out per 1M");
            for (DeploymentSpec d : g.getValue()) {
                t.row(d.id(), d.provider(), d.model(), String.valueOf(d.weight()), intOrDash(d.contextWindow()),
                        intOrDash(d.maxOutputTokens()), price(d.price()));
            }
            t.appendTo(sb, "    ");
            sb.append("    fallbacks:       ").append(chain(name, catalog.fallbackChain(name))).append('\n');
            sb.append("    context window:  ").append(chain(name, catalog.contextWindowChain(name))).append('\n');
            if (!catalog.contentFilterChain(name).isEmpty()) {
                sb.append("    content filter:  ").append(chain(name, catalog.contentFilterChain(name))).append('\n');
            }
            sb.append("    strategy:        ").append(catalog.shaping().strategy(name)).append('\n');
        }

        // traffic shaping
        var shaping = catalog.shaping();
        sb.append("\nResponse cache\n  ").append(shaping.cache() == null ? "off"
                : "on: ttl " + Durations.format(shaping.cache().ttl()) + ", at most " + shaping.cache().maxEntries()
                        + " entries (deterministic requests only)").append('\n');
        sb.append("\nEscalation\n  ");
        if (shaping.escalation() == null) {
            sb.append("off\n");
        } else {
            var gates = shaping.escalation().gates();
            List<String> g = new ArrayList<>();
            if (gates.finishReason() != null) {
                g.add("finish_reason " + gates.finishReason());
            }
            if (gates.minChars() != null) {
                g.add("at least " + gates.minChars() + " chars");
            }
            if (gates.json() != null) {
                g.add("json " + gates.json());
            }
            if (gates.regex() != null) {
                g.add("regex " + gates.regex().pattern());
            }
            sb.append(String.join(" -> ", shaping.escalation().tiers())).append(" while the gates fail: ")
                    .append(String.join(", ", g)).append('\n');
        }

        sb.append(io.caravan.batch.BatchCheck.render(catalog));

        // keyword rules
        sb.append("\nKeyword rules\n");
        if (catalog.routing().keywords().isEmpty()) {
            sb.append("  (none)\n");
        } else {
            Table t = new Table("tier", "words");
            catalog.routing().keywords().forEach((tier, words) -> t.row(tier, String.join(", ", words)));
            t.appendTo(sb, "  ");
        }
        sb.append("  score weights: agent ").append(num(catalog.routing().agentWeight()))
                .append(", task ").append(num(catalog.routing().taskWeight())).append('\n');

        // providers
        sb.append("\nProviders\n");
        Table p = new Table("provider", "api", "base_url", "keys", "timeout", "retries", "backoff", "limits",
                "extras");
        for (ProviderSpec provider : catalog.providers().values()) {
            List<String> limits = new ArrayList<>();
            if (provider.rpm() != null) {
                limits.add(provider.rpm() + " rpm");
            }
            if (provider.tpm() != null) {
                limits.add(provider.tpm() + " tpm");
            }
            p.row(provider.name(), provider.api(),
                    baseUrl(provider),
                    keys(provider), Durations.format(provider.timeout()),
                    String.valueOf(provider.retries()), Durations.format(provider.backoff()),
                    limits.isEmpty() ? "-" : String.join(", ", limits), extras(provider));
        }
        p.appendTo(sb, "  ");
        // what the usage events call the keys (key_id), so an operator can tell them apart without seeing them
        Table fingerprints = new Table("provider", "key fingerprints (key_id)");
        for (ProviderSpec provider : catalog.providers().values()) {
            if (provider.apiKeys() != null && !provider.apiKeys().isEmpty()) {
                fingerprints.row(provider.name(), String.join(", ",
                        provider.apiKeys().stream().map(io.caravan.resilience.KeyPool::fingerprint).toList()));
            }
        }
        sb.append('\n');
        fingerprints.appendTo(sb, "  ");

        // breaker and budgets
        CircuitBreakerSpec cb = catalog.circuitBreaker();
        sb.append("\nCircuit breaker (per deployment)\n  opens at ").append(num(cb.failureRate()))
                .append("% failures of the last ").append(cb.window()).append(" calls (at least ")
                .append(cb.minimumCalls()).append("), open for ").append(Durations.format(cb.openFor()))
                .append(", ").append(plural(cb.halfOpenCalls(), "half-open probe")).append('\n');

        BudgetSpec b = catalog.budgets();
        sb.append("\nBudgets (month to date, USD)\n");
        if (b.tiers().isEmpty() && b.tenants().isEmpty()) {
            sb.append("  (none)\n");
        } else {
            Table t = new Table("scope", "limit");
            b.tiers().forEach((k, v) -> t.row("tier " + k, money(v)));
            b.tenants().forEach((k, v) -> t.row("tenant " + k, money(v)));
            t.appendTo(sb, "  ");
            sb.append("  on exceed: ").append(b.onExceed()).append('\n');
        }

        if (catalog.hasTenants()) {
            sb.append("\nTenants (keys are counted, never shown)\n");
            Table t = new Table("tenant", "keys", "budget", "rpm", "tpm", "allow", "default tier", "weight");
            for (io.caravan.catalog.TenantSpec tenant : catalog.tenants().values()) {
                Double budget = b.tenants().get(tenant.name());
                List<String> allow = new ArrayList<>();
                if (tenant.allowTiers() != null) {
                    allow.add("tiers " + String.join(",", tenant.allowTiers()));
                }
                if (tenant.allowGroups() != null) {
                    allow.add("groups " + String.join(",", tenant.allowGroups()));
                }
                t.row(tenant.name(), String.valueOf(tenant.keyHashes().size()), budget == null ? "-" : money(budget),
                        tenant.rpm() == null ? "-" : String.valueOf(tenant.rpm()),
                        tenant.tpm() == null ? "-" : String.valueOf(tenant.tpm()),
                        allow.isEmpty() ? "all" : String.join("; ", allow),
                        tenant.defaultTier() == null ? "-" : tenant.defaultTier(), String.valueOf(tenant.weight()));
            }
            t.appendTo(sb, "  ");
        }

        if (!warnings.isEmpty()) {
            sb.append("\nWarnings\n");
            warnings.forEach(w -> sb.append("  ").append(w).append('\n'));
        }
        return sb.toString();
    }

    /** The catalog's base URL, else the one the adapter builds (from the region, say), else built in. */
    private static String baseUrl(ProviderSpec p) {
        String url = p.baseUrl() != null ? p.baseUrl() : ProviderAdapters.forProvider(p).defaultBaseUrl(p);
        return url == null ? "(built in)" : Redaction.maskUrls(url);
    }

    private static String keys(ProviderSpec p) {
        int n = p.apiKeys() == null ? 0 : p.apiKeys().size();
        if (n == 0) {
            return switch (ProviderAdapters.forProvider(p).credentials(p)) {
                case NONE -> "no keys (not needed)";
                case CLOUD -> "cloud credentials";
                case KEYS -> "no keys";
            };
        }
        return plural(n, "key");
    }

    /** Header names and provider settings; values of anything that may be a secret are masked. */
    private static String extras(ProviderSpec p) {
        List<String> parts = new ArrayList<>();
        if (p.headers() != null && !p.headers().isEmpty()) {
            parts.add("headers: " + String.join(", ", p.headers().keySet()));
        }
        if (p.settings() != null) {
            p.settings().forEach((k, v) -> parts.add(k + "=" + (Redaction.secretName(k) ? Redaction.VALUE_MASK
                    : Redaction.maskUrls(String.valueOf(v)))));
        }
        return parts.isEmpty() ? "-" : String.join("; ", parts);
    }

    private static String chain(String group, List<String> chain) {
        return chain.isEmpty() ? "(none)" : group + " -> " + String.join(" -> ", chain);
    }

    private static String price(Price price) {
        if (price == null || price.equals(Price.FREE)) {
            return "free";
        }
        return money(price.input()) + " / " + (price.cachedInput() == null ? "-" : money(price.cachedInput()))
                + " / " + money(price.output());
    }

    private static String money(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }

    private static String num(double v) {
        return v == Math.rint(v) ? String.format(Locale.ROOT, "%.1f", v) : String.valueOf(v);
    }

    private static String intOrDash(Integer v) {
        return v == null ? "-" : String.valueOf(v);
    }

    private static String plural(int n, String word) {
        return n + " " + word + (n == 1 ? "" : "s");
    }

    /** A plain-text table whose columns are padded to their widest cell; trailing spaces are trimmed. */
    static final class Table {
        private final List<String[]> rows = new ArrayList<>();

        Table(String... header) {
            rows.add(header);
        }

        void row(String... cells) {
            rows.add(cells);
        }

        void appendTo(StringBuilder sb, String indent) {
            int cols = rows.get(0).length;
            int[] width = new int[cols];
            for (String[] r : rows) {
                for (int i = 0; i < cols; i++) {
                    width[i] = Math.max(width[i], r[i].length());
                }
            }
            for (String[] r : rows) {
                StringBuilder line = new StringBuilder(indent);
                for (int i = 0; i < cols; i++) {
                    line.append(r[i]);
                    if (i < cols - 1) {
                        line.append(" ".repeat(width[i] - r[i].length() + 2));
                    }
                }
                sb.append(line.toString().stripTrailing()).append('\n');
            }
        }
    }
}
