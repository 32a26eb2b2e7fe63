package io.caravan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The settings have one list ({@link Setting}): {@code application.properties} and the settings table of
 * docs/operations.md say the same names and defaults, and a {@code caravan.*} name that is no setting is named at
 * start instead of being ignored without a word.
 */
class SettingsRegistryTest {

    private static final Pattern TABLE_ROW = Pattern.compile("^\\| `([^`]+)` \\| ([^|]*) \\|.*$");

    @Test
    void applicationPropertiesHoldsEverySettingWithItsDefaultAndNothingElseOfCaravans() throws Exception {
        Properties file = new Properties();
        try (Reader reader = Files.newBufferedReader(Path.of("application.properties"), StandardCharsets.UTF_8)) {
            file.load(reader);
        }
        Map<String, String> registered = Setting.all().stream()
                .collect(Collectors.toMap(Setting::name, Setting::defaultValue));
        Map<String, String> written = new LinkedHashMap<>();
        file.stringPropertyNames().stream()
                .filter(name -> name.startsWith("caravan.") || registered.containsKey(name))
                .forEach(name -> written.put(name, file.getProperty(name).trim()));
        assertThat(written).isEqualTo(registered);
        assertThat(file.stringPropertyNames()).allMatch(Setting::known);
    }

    @Test
    void theSettingsTableOfTheOperationsPageNamesEverySettingWithItsDefault() throws Exception {
        Map<String, String> rows = settingsTable();
        Map<String, String> expected = new LinkedHashMap<>();
        Setting.all().forEach(s -> expected.put(s.name(), tableDefault(s)));
        assertThat(rows).as("docs/operations.md, the settings table; as the registry has it:%n%s", table())
                .isEqualTo(expected);
    }

    @Test
    void aSettingReadsItsValueElseItsDefaultAndEmptyMeansUnset() {
        Settings settings = Settings.load().with(Setting.KEY_COOLDOWN, "90s").with(Setting.INSTANCE_ID, " ");
        assertThat(settings.get(Setting.KEY_COOLDOWN)).isEqualTo(Duration.ofSeconds(90));
        assertThat(settings.get(Setting.INSTANCE_ID)).isNull();
        assertThat(settings.with(Setting.FLEET_SHARE, "").get(Setting.FLEET_SHARE)).isTrue();
        assertThat(settings.get(Setting.KAFKA_MAX_POLL_RECORDS)).isNull();
        assertThatThrownBy(() -> settings.with(Setting.MAX_IN_FLIGHT, "lots").get(Setting.MAX_IN_FLIGHT))
                .hasMessage("setting caravan.max-in-flight: not a number: 'lots'");
        assertThatThrownBy(() -> settings.with(Setting.FLEET_SHARE, "yes").get(Setting.FLEET_SHARE))
                .hasMessage("setting caravan.fleet.share: not a true or false: 'yes'");
    }

    @Test
    void unknownCaravanNamesAreReportedAndPassThroughNamesAreNot() {
        Settings settings = Settings.load()
                .with("caravan.htp.port", "9000")
                .with("caravan.otel.exporter.otlp.endpoint", "http://127.0.0.1:4318")
                .with("kafka.bootstrap-servers", "127.0.0.1:9092")
                .with("camel.main.name", "x")
                .with("otel.traces.sampler", "always_on");
        assertThat(settings.unknown()).containsExactly("caravan.htp.port");
    }

    @Test
    void theCommandLineWarnsOfAnUnknownSettingAtStart() throws Exception {
        System.setProperty("caravan.max-inflight", "10");
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream originalErr = System.err;
        System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            CaravanMain.run(new String[] {"check", "--catalog", "no-such-catalog.yaml"});
        } finally {
            System.setErr(originalErr);
            System.clearProperty("caravan.max-inflight");
        }
        assertThat(err.toString(StandardCharsets.UTF_8)).startsWith(
                "caravan: warning: unknown setting caravan.max-inflight is ignored (the settings: docs/operations.md)");
    }

    /** The rows of the table under "## Settings": name and default cell. */
    private static Map<String, String> settingsTable() throws Exception {
        Map<String, String> rows = new LinkedHashMap<>();
        boolean inSection = false;
        for (String line : Files.readAllLines(Path.of("docs/operations.md"), StandardCharsets.UTF_8)) {
            if (line.startsWith("## ")) {
                inSection = line.equals("## Settings");
                continue;
            }
            Matcher row = TABLE_ROW.matcher(line);
            if (inSection && row.matches()) {
                rows.put(row.group(1), row.group(2).trim());
            }
        }
        return rows;
    }

    private static String tableDefault(Setting<?> setting) {
        return setting.defaultValue().isEmpty() ? "empty" : "`" + setting.defaultValue() + "`";
    }

    /** The table as the registry writes it, to paste into docs/operations.md. */
    private static String table() {
        return Setting.all().stream()
                .map(s -> "| `" + s.name() + "` | " + tableDefault(s) + " | " + s.doc() + " |")
                .collect(Collectors.joining("\n", "| setting | default | what |\n|---|---|---|\n", "\n"));
    }
}
