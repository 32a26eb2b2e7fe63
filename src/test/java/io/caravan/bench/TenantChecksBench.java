package io.caravan.bench;

import io.caravan.accounting.SpendLedger;
import io.caravan.accounting.TenantAdmission;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogHolder;
import io.caravan.catalog.CatalogLoader;
import io.caravan.cli.KeysCommand;
import io.caravan.intake.TaskIntake;
import io.caravan.intake.TenantAuth;
import io.caravan.intake.TenantIdentity;
import io.caravan.resilience.TenantRateLimits;
import io.caravan.task.TaskContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;

/**
 * What the tenant checks add to one request on the sequential HTTP path, measured in-process on the steps
 * themselves: the key's lookup (SHA-256 and the index), the task's identity, the allow: check after routing, and
 * the admission before the call (budget against the ledger with a reservation, the tenant's rpm) and its
 * settlement. bench/tenants.sh runs it; the figures are in docs/tenants.md.
 */
public final class TenantChecksBench {

    public static void main(String[] args) throws Exception {
        int rounds = Integer.getInteger("bench.rounds", 200_000);
        String key = "cvk-bench-0123456789abcdef0123456789abcdef";
        Path dir = Files.createTempDirectory("tenant-bench");
        Path file = dir.resolve("catalog.yaml");
        StringBuilder others = new StringBuilder();
        for (int i = 0; i < 200; i++) { // a catalog of 200 tenants, 2 keys each
            others.append("  t").append(i).append(":\n    api_keys: [\"").append(KeysCommand.hashLine("k" + i))
                    .append("\", \"").append(KeysCommand.hashLine("k2-" + i)).append("\"]\n    budget: 100\n");
        }
        Files.writeString(file, """
                providers:
                  sim: {api: simulated}
                models:
                  - {name: small, provider: sim, model: s, price: {input: 1, output: 1}}
                tiers:
                  fast: {model: small}
                tenants:
                  acme:
                    api_keys: ["%s"]
                    budget: 1000000
                    rpm: 100000000
                    allow: {tiers: [fast]}
                %s""".formatted(KeysCommand.hashLine(key), others));
        Catalog catalog = CatalogLoader.load(file, Map.of());
        CatalogHolder holder = new CatalogHolder(catalog);
        TenantAuth auth = new TenantAuth(holder, List.of());
        TaskIntake intake = new TaskIntake(holder, 1 << 20, 60_000).identifiedBy(new TenantIdentity("caravan-tenant"));
        // no broker: the ledger has nothing to read and starts no reader
        SpendLedger ledger = new SpendLedger(null, "unused").start(null);
        TenantRateLimits rates = new TenantRateLimits(Duration.ofMinutes(1), null);
        rates.tenants(catalog.tenants());
        TenantAdmission admission = new TenantAdmission(ledger, rates, "bench", () -> 1, 1024, Duration.ofSeconds(1));
        DefaultCamelContext camel = new DefaultCamelContext();
        byte[] body = "{\"prompt\":\"Summarise the quarterly report in three bullet points\",\"params\":{\"max_tokens\":64}}"
                .getBytes();
        String header = "Bearer " + key;
        long[] nanos = new long[rounds];
        for (int round = -rounds / 4; round < rounds; round++) { // a quarter warms up
            Exchange exchange = new DefaultExchange(camel);
            long t0 = System.nanoTime();
            String tenant = auth.tenantOf(header, catalog);
            exchange.getMessage().setHeader(TenantAuth.TENANT_HEADER, tenant);
            TaskContext ctx = intake.open(exchange, body, null, TaskContext.Source.HTTP);
            long t1 = System.nanoTime();
            ctx.route("fast", "small", "bench");
            ctx.plan(List.of(new TaskContext.Candidate(catalog.group("small").get(0), "small", null)));
            ctx.advance();
            long t2 = System.nanoTime();
            admission.route(ctx, exchange);
            admission.beforeCall(exchange);
            admission.settle(ctx);
            long t3 = System.nanoTime();
            if (ctx.done() || !"acme".equals(ctx.task().tenant())) {
                throw new IllegalStateException("the bench task was refused: " + ctx.error());
            }
            if (round >= 0) {
                // the parse and routing set-up in between are the request's anyway; only the tenant steps count
                nanos[round] = (t1 - t0) - parseOnly(intake, body, camel) + (t3 - t2);
            }
        }
        Arrays.sort(nanos);
        System.out.printf(Locale.ROOT, "tenant checks per request (%d rounds, 201 tenants): p50 %.1f us, p90 %.1f us,"
                + " p99 %.1f us%n", rounds, nanos[rounds / 2] / 1e3, nanos[rounds * 9 / 10] / 1e3,
                nanos[rounds * 99 / 100] / 1e3);
        ledger.close();
        camel.close();
    }

    /** The time the intake takes for the same body without tenants (subtracted: every request parses anyway). */
    private static long parseOnly(TaskIntake intake, byte[] body, DefaultCamelContext camel) {
        long t0 = System.nanoTime();
        intake.parser().parse(body, null);
        return Math.max(0, System.nanoTime() - t0);
    }
}
