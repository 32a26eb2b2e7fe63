package io.caravan.provider;

import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Map;

/**
 * Reads the wait a server asks for: {@code retry-after-ms} (milliseconds, sent by OpenAI and OpenAI-compatible
 * gateways) wins over {@code Retry-After} (delta-seconds, possibly fractional, or an HTTP-date). Header names are
 * matched in any case; values may be strings or lists (Camel hands over multi-valued headers as lists).
 * A date in the past gives {@link Duration#ZERO}; anything unreadable gives null.
 */
public final class RetryAfter {

    private RetryAfter() {}

    public static Duration parse(Map<String, Object> headers) {
        return parse(headers, Clock.systemUTC());
    }

    public static Duration parse(Map<String, Object> headers, Clock clock) {
        Duration ms = millis(AdapterSupport.header(headers, "retry-after-ms"));
        if (ms != null) {
            return ms;
        }
        return parseValue(AdapterSupport.header(headers, "retry-after"), clock.instant());
    }

    /** One {@code Retry-After} value: delta-seconds or an HTTP-date relative to {@code now}. */
    public static Duration parseValue(String value, Instant now) {
        if (value == null || value.isBlank()) {
            return null;
        }
        String v = value.trim();
        Duration seconds = seconds(v);
        if (seconds != null) {
            return seconds;
        }
        try {
            Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            Duration wait = Duration.between(now, at);
            return wait.isNegative() ? Duration.ZERO : wait;
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    private static Duration seconds(String v) {
        try {
            BigDecimal s = new BigDecimal(v);
            if (s.signum() < 0) {
                return null;
            }
            return Duration.ofMillis(s.movePointRight(3).longValue());
        } catch (NumberFormatException | ArithmeticException e) {
            return null;
        }
    }

    private static Duration millis(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            BigDecimal ms = new BigDecimal(value.trim());
            return ms.signum() < 0 ? null : Duration.ofMillis(ms.longValue());
        } catch (NumberFormatException | ArithmeticException e) {
            return null;
        }
    }
}
