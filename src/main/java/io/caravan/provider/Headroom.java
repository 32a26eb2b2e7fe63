package io.caravan.provider;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a provider says is left of a key's rate limit (contract section 10, the usage event's {@code headroom}):
 * requests and tokens remaining, and in how many milliseconds the limit resets. Any field may be null (not sent).
 * Read from each API's own headers, named in {@link #HEADERS}; {@code resetMs} is the later of the request and
 * token resets, so a cap taken from it never ends early.
 */
public record Headroom(Long requests, Long tokens, Long resetMs) {

    /** How an API writes its reset: a duration ("6m0s", "20ms") or an RFC 3339 instant. */
    enum ResetFormat { DURATION, INSTANT }

    /** The header names of one API. */
    record Names(String requests, String tokens, List<String> resets, ResetFormat format) {}

    static final Names OPENAI = new Names("x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens",
            List.of("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"), ResetFormat.DURATION);
    static final Names ANTHROPIC = new Names("anthropic-ratelimit-requests-remaining",
            "anthropic-ratelimit-tokens-remaining",
            List.of("anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset"), ResetFormat.INSTANT);

    /**
     * Per {@code api}: which headers carry the headroom. Gemini sends none; OpenAI's names are read for every other
     * api (the OpenAI-compatible dialects and Azure send them; an api that sends none finds none).
     */
    static final Map<String, Names> HEADERS = Map.of("openai", OPENAI, "simulated", OPENAI, "anthropic", ANTHROPIC);

    /** The headroom in a provider's answer headers, or null when it sent none. */
    public static Headroom read(String api, Map<String, Object> headers, Instant now) {
        Names names = "gemini".equals(api) ? null : HEADERS.getOrDefault(api, OPENAI);
        if (names == null || headers == null || headers.isEmpty()) {
            return null;
        }
        Long requests = count(AdapterSupport.header(headers, names.requests()));
        Long tokens = count(AdapterSupport.header(headers, names.tokens()));
        Long reset = null;
        for (String name : names.resets()) {
            Duration d = names.format() == ResetFormat.DURATION
                    ? duration(AdapterSupport.header(headers, name))
                    : untilInstant(AdapterSupport.header(headers, name), now);
            if (d != null) {
                reset = reset == null ? d.toMillis() : Math.max(reset, d.toMillis());
            }
        }
        return requests == null && tokens == null && reset == null ? null : new Headroom(requests, tokens, reset);
    }

    private static Long count(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            long n = Long.parseLong(value.trim());
            return n < 0 ? null : n;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)");

    /** A Go-style duration as OpenAI sends it: "1s", "6m0s", "20ms", "1h2m3.5s"; null when unreadable. */
    static Duration duration(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        String v = value.trim();
        Matcher m = PART.matcher(v);
        BigDecimal nanos = BigDecimal.ZERO;
        int at = 0;
        while (m.find()) {
            if (m.start() != at) {
                return null;
            }
            BigDecimal n = new BigDecimal(m.group(1));
            long unit = switch (m.group(2)) {
                case "ns" -> 1L;
                case "us", "µs" -> 1_000L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                default -> 3_600_000_000_000L;
            };
            nanos = nanos.add(n.multiply(BigDecimal.valueOf(unit)));
            at = m.end();
        }
        if (at == 0 || at != v.length()) {
            return null;
        }
        return Duration.ofNanos(nanos.longValue());
    }

    /** The wait until an RFC 3339 instant; zero when it has passed, null when unreadable. */
    static Duration untilInstant(String value, Instant now) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            Duration d = Duration.between(now, java.time.OffsetDateTime.parse(value.trim()).toInstant());
            return d.isNegative() ? Duration.ZERO : d;
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
