package io.caravan.accounting;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.task.Outcome;
import io.caravan.util.Json;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Spend, tokens, requests (distinct task ids), attempts and fallback share of a set of usage events, grouped by
 * tier, model, provider, tenant or day (UTC). A task "fell back" when its answer came from a deployment other than
 * the first of its plan (its {@code ok} event says {@code fallback: true}), as {@code caravan_fallbacks_total}
 * counts it.
 */
public final class UsageReport {

    public static final String NONE = "(none)";

    /** What the rows are grouped by. */
    public enum By {
        TIER(e -> e.tier()),
        MODEL(e -> e.model()),
        PROVIDER(e -> e.provider()),
        TENANT(e -> e.tenant()),
        DAY(e -> e.ts().atZone(ZoneOffset.UTC).toLocalDate().toString()),
        /** online or batch: the path that served the attempt */
        MODE(e -> e.mode());

        private final Function<UsageEvent, String> key;

        By(Function<UsageEvent, String> key) {
            this.key = key;
        }

        String keyOf(UsageEvent e) {
            String k = key.apply(e);
            return k == null || k.isEmpty() ? NONE : k;
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static By parse(String text) {
            for (By by : values()) {
                if (by.label().equals(text)) {
                    return by;
                }
            }
            throw new IllegalArgumentException("--by must be tier, model, provider, tenant or day (or mode), got '" + text + "'");
        }
    }

    /** One line of the report. */
    public record Row(String key, long requests, long attempts, long tasksWithFallback, long inputTokens,
            long cachedInputTokens, long outputTokens, double spendUsd) {

        public double fallbackShare() {
            return requests == 0 ? 0 : tasksWithFallback / (double) requests;
        }
    }

    private static final class Acc {
        final Set<String> tasks = new HashSet<>();
        long attempts;
        long input;
        long cached;
        long output;
        double spend;

        void add(UsageEvent e) {
            tasks.add(e.taskId());
            attempts++;
            input += e.inputTokens();
            cached += e.cachedInputTokens();
            output += e.outputTokens();
            spend += e.costUsd();
        }

        Row row(String key, Set<String> tasksThatFellBack) {
            long fellBack = tasks.stream().filter(tasksThatFellBack::contains).count();
            return new Row(key, tasks.size(), attempts, fellBack, input, cached, output, spend);
        }
    }

    private final By by;
    private final List<Row> rows;
    private final Row total;

    private UsageReport(By by, List<Row> rows, Row total) {
        this.by = by;
        this.rows = rows;
        this.total = total;
    }

    public static UsageReport of(Iterable<UsageEvent> events, By by) {
        Map<String, Acc> groups = new TreeMap<>();
        Acc all = new Acc();
        Set<String> tasksThatFellBack = new HashSet<>();
        for (UsageEvent e : events) {
            if (e.taskId() == null) {
                continue;
            }
            groups.computeIfAbsent(by.keyOf(e), k -> new Acc()).add(e);
            all.add(e);
            if (e.fallback() && e.outcomeType() == Outcome.OK) {
                tasksThatFellBack.add(e.taskId());
            }
        }
        List<Row> rows = new ArrayList<>();
        groups.forEach((k, acc) -> rows.add(acc.row(k, tasksThatFellBack)));
        return new UsageReport(by, List.copyOf(rows), all.row("total", tasksThatFellBack));
    }

    public By by() {
        return by;
    }

    public List<Row> rows() {
        return rows;
    }

    public Row total() {
        return total;
    }

    private static final String[] HEADER = {"requests", "attempts", "fallback share", "input tokens",
        "cached tokens", "output tokens", "spend USD"};

    /** An aligned text table with a total line; text left, numbers right. */
    public String table() {
        List<String[]> lines = new ArrayList<>();
        String[] header = new String[HEADER.length + 1];
        header[0] = by.label();
        System.arraycopy(HEADER, 0, header, 1, HEADER.length);
        lines.add(header);
        rows.forEach(r -> lines.add(cells(r)));
        lines.add(cells(total));
        int[] width = new int[header.length];
        for (String[] l : lines) {
            for (int i = 0; i < l.length; i++) {
                width[i] = Math.max(width[i], l[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (int n = 0; n < lines.size(); n++) {
            if (n == lines.size() - 1) {
                int all = 0;
                for (int w : width) {
                    all += w;
                }
                sb.append("-".repeat(all + 2 * (width.length - 1))).append('\n');
            }
            String[] l = lines.get(n);
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < l.length; i++) {
                String pad = " ".repeat(width[i] - l[i].length());
                line.append(i == 0 ? l[i] + pad : pad + l[i]);
                if (i < l.length - 1) {
                    line.append("  ");
                }
            }
            sb.append(line.toString().stripTrailing()).append('\n');
        }
        return sb.toString();
    }

    private static String[] cells(Row r) {
        return new String[] {r.key(), String.valueOf(r.requests()), String.valueOf(r.attempts()),
            String.format(Locale.ROOT, "%.1f%%", 100 * r.fallbackShare()), String.valueOf(r.inputTokens()),
            String.valueOf(r.cachedInputTokens()), String.valueOf(r.outputTokens()),
            String.format(Locale.ROOT, "%.6f", r.spendUsd())};
    }

    public String csv() {
        StringBuilder sb = new StringBuilder();
        sb.append(by.label()).append(",requests,attempts,tasks_with_fallback,fallback_share,input_tokens,"
                + "cached_input_tokens,output_tokens,spend_usd\n");
        for (Row r : rows) {
            csvLine(sb, r);
        }
        csvLine(sb, total);
        return sb.toString();
    }

    private static void csvLine(StringBuilder sb, Row r) {
        sb.append(csvCell(r.key())).append(',').append(r.requests()).append(',').append(r.attempts()).append(',')
                .append(r.tasksWithFallback()).append(',')
                .append(String.format(Locale.ROOT, "%.4f", r.fallbackShare())).append(',')
                .append(r.inputTokens()).append(',').append(r.cachedInputTokens()).append(',')
                .append(r.outputTokens()).append(',').append(String.format(Locale.ROOT, "%.6f", r.spendUsd()))
                .append('\n');
    }

    private static String csvCell(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    public ObjectNode json() {
        ObjectNode root = Json.object();
        root.put("by", by.label());
        ArrayNode list = root.putArray("rows");
        rows.forEach(r -> list.add(jsonRow(r)));
        root.set("total", jsonRow(total));
        return root;
    }

    private static ObjectNode jsonRow(Row r) {
        ObjectNode n = Json.object();
        n.put("key", r.key());
        n.put("requests", r.requests());
        n.put("attempts", r.attempts());
        n.put("tasks_with_fallback", r.tasksWithFallback());
        n.put("fallback_share", Math.round(r.fallbackShare() * 10_000) / 10_000.0);
        n.put("input_tokens", r.inputTokens());
        n.put("cached_input_tokens", r.cachedInputTokens());
        n.put("output_tokens", r.outputTokens());
        n.put("spend_usd", Math.round(r.spendUsd() * 1_000_000) / 1_000_000.0);
        return n;
    }

    /** A small self-contained HTML page: a bar chart (inline SVG) of spend by the grouping, and the table. */
    public String html(String title) {
        double max = rows.stream().mapToDouble(Row::spendUsd).max().orElse(0);
        int barHeight = 22;
        int labelWidth = 160;
        int chartWidth = 480;
        int height = Math.max(1, rows.size()) * (barHeight + 8) + 10;
        StringBuilder svg = new StringBuilder();
        svg.append("<svg width=\"").append(labelWidth + chartWidth + 120)
                .append("\" height=\"").append(height).append("\" role=\"img\" aria-label=\"spend by ")
                .append(by.label()).append("\">\n");
        int y = 5;
        for (Row r : rows) {
            int w = max <= 0 || r.spendUsd() <= 0 ? 0 : Math.max(1, (int) Math.round(chartWidth * r.spendUsd() / max));
            svg.append(String.format(Locale.ROOT,
                    "  <text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"13\">%s</text>%n",
                    labelWidth - 8, y + 16, esc(r.key())));
            svg.append(String.format(Locale.ROOT,
                    "  <rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#3b7dd8\"/>%n",
                    labelWidth, y, w, barHeight));
            svg.append(String.format(Locale.ROOT,
                    "  <text x=\"%d\" y=\"%d\" font-size=\"13\">$%.6f</text>%n",
                    labelWidth + w + 6, y + 16, r.spendUsd()));
            y += barHeight + 8;
        }
        svg.append("</svg>\n");
        StringBuilder table = new StringBuilder("<table>\n<tr><th>").append(esc(by.label())).append("</th>");
        for (String h : HEADER) {
            table.append("<th>").append(esc(h)).append("</th>");
        }
        table.append("</tr>\n");
        for (Row r : rows) {
            htmlRow(table, r, false);
        }
        htmlRow(table, total, true);
        table.append("</table>\n");
        return """
                <!DOCTYPE html>
                <html lang="en"><head><meta charset="utf-8"><title>%1$s</title>
                <style>
                body{font-family:system-ui,sans-serif;margin:2em;color:#222}
                table{border-collapse:collapse;margin-top:1.5em}
                th,td{padding:4px 10px;border-bottom:1px solid #ddd}
                td.n{text-align:right;font-variant-numeric:tabular-nums}
                tr.total td{font-weight:bold;border-top:2px solid #888}
                </style></head>
                <body>
                <h1>%1$s</h1>
                <h2>Spend by %2$s (USD)</h2>
                %3$s%4$s</body></html>
                """.formatted(esc(title), esc(by.label()), svg, table);
    }

    private static void htmlRow(StringBuilder sb, Row r, boolean total) {
        String[] c = cells(r);
        sb.append(total ? "<tr class=\"total\">" : "<tr>").append("<td>").append(esc(c[0])).append("</td>");
        for (int i = 1; i < c.length; i++) {
            sb.append("<td class=\"n\">").append(esc(c[i])).append("</td>");
        }
        sb.append("</tr>\n");
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
