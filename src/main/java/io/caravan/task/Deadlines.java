package io.caravan.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.util.Durations;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;

/**
 * A task's {@code deadline} (an ISO-8601 instant) or {@code max_delay} (a duration from now: {@code 6h}, {@code 90m},
 * {@code 2d} or ISO {@code PT6H}): when it must be answered. A task with neither is answered online as today; one
 * with a deadline may wait for a provider batch. A deadline already past, or one that cannot be read, makes the
 * record an {@code invalid_task}: silently answering it online would hide the caller's mistake.
 */
public final class Deadlines {

    private Deadlines() {}

    /** The task's deadline, or null when it gives none. */
    public static Instant of(ObjectNode root, String id) {
        JsonNode deadline = root.get("deadline");
        JsonNode maxDelay = root.get("max_delay");
        boolean hasDeadline = deadline != null && !deadline.isNull();
        boolean hasDelay = maxDelay != null && !maxDelay.isNull();
        if (hasDeadline && hasDelay) {
            throw new InvalidTaskException("give deadline or max_delay, not both", id);
        }
        Instant now = Instant.now();
        if (hasDeadline) {
            Instant at = instant(deadline, id);
            if (!at.isAfter(now)) {
                throw new InvalidTaskException("deadline " + at + " is in the past", id);
            }
            return at;
        }
        if (hasDelay) {
            return now.plus(delay(maxDelay, id));
        }
        return null;
    }

    private static Instant instant(JsonNode node, String id) {
        String text = node.isTextual() ? node.asText().trim() : null;
        if (text != null) {
            try {
                return Instant.parse(text);
            } catch (DateTimeParseException e) {
                try {
                    return OffsetDateTime.parse(text).toInstant();
                } catch (DateTimeParseException ignored) {
                    // falls through to the one message below
                }
            }
        }
        throw new InvalidTaskException("deadline must be an ISO-8601 instant such as 2026-11-30T08:00:00Z, not "
                + shorten(node.toString()), id);
    }

    /** A positive duration: catalog style ({@code 6h}, {@code 90m}, {@code 2d}) or ISO-8601 ({@code PT6H}). */
    static Duration delay(JsonNode node, String id) {
        String text = node.isTextual() ? node.asText().trim() : null;
        Duration d = null;
        if (text != null && !text.isEmpty()) {
            try {
                if (text.startsWith("P") || text.startsWith("p")) {
                    d = Duration.parse(text.toUpperCase(java.util.Locale.ROOT));
                } else if (text.endsWith("d")) {
                    d = Duration.ofMillis(Math.round(Double.parseDouble(text.substring(0, text.length() - 1).trim())
                            * 86_400_000d));
                } else {
                    d = Durations.parse(text);
                }
            } catch (RuntimeException e) {
                d = null;
            }
        }
        if (d == null) {
            throw new InvalidTaskException("max_delay must be a duration such as \"6h\", \"90m\" or \"PT6H\", not "
                    + shorten(node.toString()), id);
        }
        if (d.isZero() || d.isNegative()) {
            throw new InvalidTaskException("max_delay must be greater than 0", id);
        }
        return d;
    }

    private static String shorten(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "...";
    }
}
