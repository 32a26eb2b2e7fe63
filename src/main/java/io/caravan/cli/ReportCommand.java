package io.caravan.cli;

import io.caravan.Setting;
import io.caravan.Settings;
import io.caravan.accounting.UsageEvent;
import io.caravan.accounting.UsageReport;
import io.caravan.accounting.UsageTopicReader;
import io.caravan.util.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code caravan report [--by tier|model|provider|tenant|day] [--since DATE] [--until DATE]
 * [--format table|csv|json] [--html FILE]}: spend, tokens, requests and fallback share from the usage topic
 * (setting {@code caravan.topics.usage}) on the broker of {@code kafka.bootstrap-servers}. Dates are UTC days
 * ({@code 2026-11-01}) or instants; {@code --until} includes its whole day.
 */
public final class ReportCommand {

    static final String USAGE = "usage: caravan report [--by tier|model|provider|tenant|day|mode] [--since YYYY-MM-DD]"
            + " [--until YYYY-MM-DD] [--format table|csv|json] [--html FILE]";

    private ReportCommand() {}

    public static int run(List<String> args, Settings settings, PrintStream out, PrintStream err) {
        List<String> rest = new ArrayList<>(args);
        UsageReport.By by;
        Instant since;
        Instant until;
        String format;
        String html;
        try {
            by = UsageReport.By.parse(orDefault(Options.take(rest, "--by"), "tier"));
            since = instant(Options.take(rest, "--since"), false);
            until = instant(Options.take(rest, "--until"), true);
            format = orDefault(Options.take(rest, "--format"), "table");
            html = Options.take(rest, "--html");
            if (!List.of("table", "csv", "json").contains(format)) {
                throw new IllegalArgumentException("--format must be table, csv or json, got '" + format + "'");
            }
            if (!rest.isEmpty()) {
                throw new IllegalArgumentException("unexpected argument '" + rest.get(0) + "'");
            }
        } catch (IllegalArgumentException e) {
            err.println("caravan report: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        String bootstrap = settings.get(Setting.KAFKA_BOOTSTRAP_SERVERS);
        if (bootstrap == null) {
            err.println("caravan report: kafka.bootstrap-servers is not set; give the broker that holds the usage"
                    + " topic, e.g. java -Dkafka.bootstrap-servers=127.0.0.1:9092 -jar caravan.jar report");
            return 2;
        }
        String topic = settings.get(Setting.TOPICS_USAGE);
        Broker.quietClientLogs();
        List<UsageEvent> events = new ArrayList<>();
        try {
            UsageTopicReader.read(bootstrap, topic, since, e -> {
                if ((since == null || !e.ts().isBefore(since)) && (until == null || e.ts().isBefore(until))) {
                    events.add(e);
                }
            });
        } catch (UsageTopicReader.NoSuchTopic e) {
            err.println("caravan report: " + e.getMessage());
            return 1;
        } catch (org.apache.kafka.common.KafkaException e) {
            err.println("caravan report: cannot read " + topic + " from " + bootstrap + ": " + e.getMessage());
            return 1;
        }
        UsageReport report = UsageReport.of(events, by);
        switch (format) {
            case "csv" -> out.print(report.csv());
            case "json" -> out.println(Json.text(report.json()));
            default -> {
                out.print(report.table());
                io.caravan.accounting.BatchSaving saving = io.caravan.accounting.BatchSaving.of(events,
                        catalogOrNull(settings));
                if (saving.batchAttempts() > 0) {
                    out.print(saving.text());
                }
            }
        }
        if (html != null) {
            String title = "Caravan spend by " + by.label()
                    + (since == null ? "" : " since " + since) + (until == null ? "" : " until " + until);
            try {
                Files.writeString(Path.of(html), report.html(title));
            } catch (IOException e) {
                err.println("caravan report: cannot write " + html + ": " + e.getMessage());
                return 1;
            }
        }
        out.flush();
        return 0;
    }

    /** The catalog for online prices, when its file can be read (the saving is estimated without it). */
    private static io.caravan.catalog.Catalog catalogOrNull(Settings settings) {
        try {
            return io.caravan.catalog.CatalogLoader.load(Path.of(settings.get(Setting.CATALOG)),
                    System.getenv(), w -> { });
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** A UTC date (start of day; with {@code endOfDay}, the start of the next day) or an ISO instant. */
    static Instant instant(String text, boolean endOfDay) {
        if (text == null) {
            return null;
        }
        try {
            LocalDate day = LocalDate.parse(text);
            return (endOfDay ? day.plusDays(1) : day).atStartOfDay().toInstant(ZoneOffset.UTC);
        } catch (DateTimeParseException notADate) {
            try {
                return Instant.parse(text);
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException("not an ISO date: '" + text + "' (use YYYY-MM-DD)");
            }
        }
    }

    private static String orDefault(String value, String fallback) {
        return value == null ? fallback : value;
    }
}
