package io.caravan;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;

/**
 * Caravan's settings: the packaged {@code application.properties}, then {@code ./application.properties} when
 * present, then JVM system properties ({@code -Dname=value}), each overriding the one before. Read once at start;
 * callers read them through the typed {@link Setting}s, which hold every name and default.
 */
public final class Settings {

    private final Properties values;

    private Settings(Properties values) {
        this.values = values;
    }

    public static Settings load() {
        Properties values = new Properties();
        try (InputStream packaged = Settings.class.getResourceAsStream("/application.properties")) {
            if (packaged != null) {
                values.load(new java.io.InputStreamReader(packaged, StandardCharsets.UTF_8));
            }
            Path local = Path.of("application.properties");
            if (Files.isRegularFile(local)) {
                try (Reader reader = Files.newBufferedReader(local)) {
                    values.load(reader);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read application.properties: " + e.getMessage(), e);
        }
        System.getProperties().forEach((k, v) -> values.put(k, v));
        return new Settings(values);
    }

    public Settings with(String name, String value) {
        Properties copy = new Properties();
        copy.putAll(values);
        copy.setProperty(name, value);
        return new Settings(copy);
    }

    /** A setting's value, else its default; null when it has neither (an empty default means unset). */
    public <T> T get(Setting<T> setting) {
        return setting.read(values.getProperty(setting.name()));
    }

    /**
     * The {@code caravan.*} names given that are no setting of Caravan's (a typo, or one a version dropped):
     * they would be ignored silently, so the start names them.
     */
    public List<String> unknown() {
        return values.stringPropertyNames().stream().filter(name -> !Setting.known(name)).sorted().toList();
    }

    public Settings with(Setting<?> setting, String value) {
        return with(setting.name(), value);
    }

    /** A pass-through setting by name ({@code kafka.*}, {@code camel.*}, {@code otel.*}); Caravan's own: {@link #get(Setting)}. */
    public String get(String name) {
        String value = values.getProperty(name);
        return value == null || value.isBlank() ? null : value.trim();
    }

    public Properties all() {
        Properties copy = new Properties();
        copy.putAll(values);
        return copy;
    }
}
