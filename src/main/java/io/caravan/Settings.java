package io.caravan;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * Caravan's settings: the packaged {@code application.properties}, then {@code ./application.properties} when
 * present, then JVM system properties ({@code -Dname=value}), each overriding the one before.
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

    public String get(String name) {
        String value = values.getProperty(name);
        return value == null || value.isBlank() ? null : value.trim();
    }

    public String get(String name, String fallback) {
        String value = get(name);
        return value == null ? fallback : value;
    }

    public int getInt(String name, int fallback) {
        String value = get(name);
        try {
            return value == null ? fallback : Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("setting " + name + ": not a number: '" + value + "'");
        }
    }

    public long getLong(String name, long fallback) {
        String value = get(name);
        try {
            return value == null ? fallback : Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("setting " + name + ": not a number: '" + value + "'");
        }
    }

    public Properties all() {
        Properties copy = new Properties();
        copy.putAll(values);
        return copy;
    }
}
