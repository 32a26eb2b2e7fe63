package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.Settings;
import io.caravan.cli.ReportCommand;
import io.caravan.support.TestKafka;
import io.caravan.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code caravan report} on a usage topic with known events: totals to the cent, CSV and JSON read back, HTML. */
class ReportCommandTest {

    static String topic;
    static Settings settings;

    @BeforeAll
    static void seed() {
        topic = "report-usage-" + UUID.randomUUID().toString().substring(0, 8);
        // t1 ok; t2 falls back inside its group (small#1 is not the first of its plan); t3 falls back from big (beta) to small (alpha); t4, t5 ok
        ok("t1", 1, "2025-03-01T09:00:00Z", "fast", "small", "small#0", "alpha", 1.10, false, "acme");
        failed("t2", 1, "2025-03-01T10:00:00Z", "fast", "small", "small#0", "alpha", "rate_limited", "acme");
        ok("t2", 2, "2025-03-01T10:00:01Z", "fast", "small", "small#1", "alpha", 0.40, true, "acme");
        failed("t3", 1, "2025-03-02T11:00:00Z", "powerful", "big", "big#0", "beta", "server_error", "globex");
        ok("t3", 2, "2025-03-02T11:00:02Z", "powerful", "small", "small#0", "alpha", 2.25, true, "globex");
        ok("t4", 1, "2025-03-03T12:00:00Z", "powerful", "big", "big#0", "beta", 3.333333, false, null);
        ok("t5", 1, "2025-03-03T23:59:59Z", "balanced", "mid", "mid#0", "gamma", 0.005, false, "acme");
        TestKafka.send(topic, "junk", "not json at all".getBytes(StandardCharsets.UTF_8), Map.of());
        settings = Settings.load().with("kafka.bootstrap-servers", TestKafka.bootstrapServers())
                .with("caravan.topics.usage", topic);
    }

    static void ok(String task, int attempt, String ts, String tier, String model, String deployment,
            String provider, double cost, boolean fallback, String tenant) {
        UsageSeed.send(topic, task, UsageSeed.event(task, attempt, Instant.parse(ts), tier, model, deployment,
                provider, "ok", 1000, 100, 200, cost, fallback, tenant));
    }

    static void failed(String task, int attempt, String ts, String tier, String model, String deployment,
            String provider, String outcome, String tenant) {
        UsageSeed.send(topic, task, UsageSeed.event(task, attempt, Instant.parse(ts), tier, model, deployment,
                provider, outcome, 0, 0, 0, 0.0, false, tenant));
    }

    record Run(int status, String out, String err) {}

    static Run report(Settings s, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = ReportCommand.run(new ArrayList<>(Arrays.asList(args)), s,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void tableByTierHasExactTotalsAndAlignedColumns() {
        Run run = report(settings, "--by", "tier");
        assertThat(run.status()).as(run.err()).isEqualTo(0);
        String[] lines = run.out().split("\n");
        assertThat(lines[0]).startsWith("tier").contains("requests").contains("spend USD");
        assertThat(lines).hasSize(6); // header, balanced, fast, powerful, rule, total
        assertThat(lines[1].split("\\s+")).containsExactly("balanced", "1", "1", "0.0%", "1000", "100", "200", "0.005000");
        assertThat(lines[2].split("\\s+")).containsExactly("fast", "2", "3", "50.0%", "2000", "200", "400", "1.500000");
        assertThat(lines[3].split("\\s+"))
                .containsExactly("powerful", "2", "3", "50.0%", "2000", "200", "400", "5.583333");
        assertThat(lines[4]).matches("-+");
        assertThat(lines[5].split("\\s+")).containsExactly("total", "5", "7", "40.0%", "5000", "500", "1000", "7.088333");
        for (String line : new String[] {lines[0], lines[1], lines[2], lines[3], lines[5]}) {
            assertThat(line).hasSameSizeAs(lines[0]); // right-aligned numbers end in the same column
        }
    }

    @Test
    void csvByProviderParsesBack() {
        Run run = report(settings, "--by", "provider", "--format", "csv");
        assertThat(run.status()).isEqualTo(0);
        Map<String, String[]> rows = new HashMap<>();
        List<String> lines = run.out().lines().toList();
        assertThat(lines.get(0)).isEqualTo("provider,requests,attempts,tasks_with_fallback,fallback_share,"
                + "input_tokens,cached_input_tokens,output_tokens,spend_usd");
        lines.stream().skip(1).forEach(l -> rows.put(l.split(",")[0], l.split(",")));
        assertThat(rows.keySet()).containsExactlyInAnyOrder("alpha", "beta", "gamma", "total");
        assertThat(rows.get("alpha")[1]).isEqualTo("3");
        assertThat(rows.get("alpha")[2]).isEqualTo("4");
        assertThat(rows.get("alpha")[3]).isEqualTo("2");
        assertThat(Double.parseDouble(rows.get("alpha")[8])).isEqualTo(3.75);
        assertThat(Double.parseDouble(rows.get("beta")[8])).isEqualTo(3.333333);
        assertThat(Double.parseDouble(rows.get("total")[8])).isEqualTo(7.088333);
        assertThat(rows.get("total")[1]).isEqualTo("5");
        assertThat(Double.parseDouble(rows.get("total")[4])).isEqualTo(0.4);
    }

    @Test
    void jsonByTenantParsesBack() throws Exception {
        Run run = report(settings, "--by=tenant", "--format", "json");
        assertThat(run.status()).isEqualTo(0);
        JsonNode root = Json.MAPPER.readTree(run.out());
        assertThat(root.path("by").asText()).isEqualTo("tenant");
        Map<String, JsonNode> rows = new HashMap<>();
        root.path("rows").forEach(r -> rows.put(r.path("key").asText(), r));
        assertThat(rows.keySet()).containsExactlyInAnyOrder("acme", "globex", "(none)");
        assertThat(rows.get("acme").path("spend_usd").asDouble()).isEqualTo(1.505);
        assertThat(rows.get("acme").path("requests").asLong()).isEqualTo(3);
        assertThat(rows.get("globex").path("tasks_with_fallback").asLong()).isEqualTo(1);
        assertThat(root.path("total").path("spend_usd").asDouble()).isEqualTo(7.088333);
        assertThat(root.path("total").path("attempts").asLong()).isEqualTo(7);
    }

    @Test
    void byDayWithSinceAndUntil() {
        Run all = report(settings, "--by", "day", "--format", "csv");
        assertThat(all.out()).contains("2025-03-01,2,3,1,0.5000,2000,200,400,1.500000")
                .contains("2025-03-02,1,2,1,1.0000,1000,100,200,2.250000")
                .contains("2025-03-03,2,2,0,0.0000,2000,200,400,3.338333");
        Run one = report(settings, "--by", "day", "--since", "2025-03-02", "--until", "2025-03-02", "--format", "csv");
        assertThat(one.out().lines().toList()).containsExactly(
                "day,requests,attempts,tasks_with_fallback,fallback_share,input_tokens,cached_input_tokens,"
                        + "output_tokens,spend_usd",
                "2025-03-02,1,2,1,1.0000,1000,100,200,2.250000",
                "total,1,2,1,1.0000,1000,100,200,2.250000");
        Run lastDay = report(settings, "--by", "model", "--since", "2025-03-03", "--format", "json");
        assertThat(lastDay.out()).contains("\"spend_usd\":3.338333");
    }

    @Test
    void htmlPageHasOneBarPerGroup(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("spend.html");
        Run run = report(settings, "--by", "tier", "--html", file.toString());
        assertThat(run.status()).isEqualTo(0);
        String html = Files.readString(file);
        assertThat(html).startsWith("<!DOCTYPE html>").contains("<svg").contains("Spend by tier")
                .doesNotContain("<script").doesNotContain("http://").doesNotContain("https://");
        assertThat(html.split("class=\"bar\"", -1)).hasSize(4); // balanced, fast, powerful
        assertThat(html).contains("$5.583333");
    }

    @Test
    void clearOneLineErrors() {
        Run unset = report(Settings.load().with("kafka.bootstrap-servers", " "), "--by", "tier");
        assertThat(unset.status()).isEqualTo(2);
        assertThat(unset.err().lines().toList()).hasSize(1);
        assertThat(unset.err()).startsWith("caravan report: kafka.bootstrap-servers is not set");

        Run badBy = report(settings, "--by", "colour");
        assertThat(badBy.status()).isEqualTo(2);
        assertThat(badBy.err()).startsWith("caravan report: --by must be tier, model, provider, tenant or day");

        Run noTopic = report(settings.with("caravan.topics.usage", "no-such-usage-topic"));
        assertThat(noTopic.status()).isEqualTo(1);
        assertThat(noTopic.err().trim()).isEqualTo("caravan report: no topic 'no-such-usage-topic' on "
                + TestKafka.bootstrapServers());
    }
}
