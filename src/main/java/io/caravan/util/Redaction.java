package io.caravan.util;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one step that takes secrets out of text before Caravan passes it on. {@link #redact} replaces every secret
 * the live catalogs hold (exact match on the expanded values, whatever they look like) and anything shaped like a
 * key; it is what provider text goes through as it enters Caravan (see {@code ProviderError}) and what catalog
 * errors go through. {@link #maskUrls} masks the credentials of URLs ({@code user:pass@}, {@code ?api-key=...}),
 * for printing a {@code base_url}.
 *
 * <p>Shapes taken for keys: {@code sk-}, {@code gsk_}, {@code xai-}, {@code AIza}... prefixes, a token after
 * {@code Bearer}/{@code Basic}, and runs of 32 or more hex or base64 characters that stand alone (a run glued to a
 * prefix by {@code _} or {@code -}, such as {@code req_<hex>} or {@code chatcmpl-<id>}, is an identifier and
 * stays; a base64 run must mix digits, upper and lower case, so words and paths stay). UUIDs stay.
 */
public final class Redaction {

    /** What a secret becomes in text. */
    public static final String MASK = "[redacted]";
    /** What a secret value shown in its place (a URL credential, a setting) becomes. */
    public static final String VALUE_MASK = "***";

    /** Names (headers, query parameters, settings) whose values are secrets. */
    private static final Pattern SECRET_NAME =
            Pattern.compile("(?i).*(key|secret|token|password|passwd|credential|auth|signature|cookie).*|pwd|sig");

    /** Secrets shorter than this are matched only where they stand alone, so a tiny test key eats no words. */
    private static final int SHORT = 8;

    private static final Pattern PREFIXED = Pattern.compile(
            "(?<![A-Za-z0-9])(?:(?:sk|gsk|xai|pplx|nvapi|hf|r8|fw)[-_][A-Za-z0-9_*.\\-]{6,}+"
                    + "|AIza[0-9A-Za-z_\\-]{10,}+|ya29\\.[0-9A-Za-z_.\\-]{10,}+)");

    /** A credential after an auth scheme; a plain word there stays ("Bearer authentication required"). */
    private static final Pattern AUTH_SCHEME =
            Pattern.compile("(?i)\\b(bearer|basic)(\\s+)([A-Za-z0-9._~+/\\-]++=*+)");
    private static final Pattern WORD = Pattern.compile("[A-Za-z][a-z]*");

    /** A run of base64 (hex included) characters not glued to an identifier's prefix. */
    private static final Pattern LONG_RUN = Pattern.compile(
            "(?<![A-Za-z0-9+/_\\-])[A-Za-z0-9+/]{32,}+=*+(?![A-Za-z0-9_\\-])");
    private static final Pattern HEX = Pattern.compile("[0-9a-fA-F]+=*");

    private static final Pattern URL_USERINFO = Pattern.compile("(?i)\\b([a-z][a-z0-9+.\\-]*://)([^/?#@\\s\"'<>]+)@");
    private static final Pattern URL_QUERY_VALUE = Pattern.compile("([?&;]([A-Za-z0-9_.\\-]+)=)([^&#\\s\"'<>]*)");

    /** Each tracker's secrets (a Caravan's key pool); weak, so a stopped Caravan's keys go with it. */
    private static final Map<Object, Set<String>> TRACKED = new WeakHashMap<>();
    private static volatile Known known = Known.NONE;

    private Redaction() {}

    /**
     * Replaces the secrets {@code owner} holds by {@code secrets} (all of them, e.g. after a catalog reload). Blank
     * values are ignored.
     */
    public static void track(Object owner, Collection<String> secrets) {
        Set<String> own = new LinkedHashSet<>();
        for (String s : secrets) {
            if (s != null && !s.isBlank()) {
                own.add(s.trim());
            }
        }
        synchronized (TRACKED) {
            TRACKED.put(owner, own);
            Set<String> all = new LinkedHashSet<>();
            TRACKED.values().forEach(all::addAll);
            known = Known.of(all);
        }
    }

    /** Whether a header, query parameter or setting of this name holds a secret. */
    public static boolean secretName(String name) {
        return name != null && SECRET_NAME.matcher(name).matches();
    }

    /**
     * The secrets a URL carries: the password (or lone user token) of its user info and the values of its
     * secret-named query parameters.
     */
    public static List<String> secretsOfUrl(String url) {
        List<String> out = new ArrayList<>();
        if (url == null) {
            return out;
        }
        Matcher user = URL_USERINFO.matcher(url);
        if (user.find()) {
            String info = user.group(2);
            int colon = info.indexOf(':');
            addRawAndDecoded(out, colon < 0 ? info : info.substring(colon + 1));
        }
        Matcher query = URL_QUERY_VALUE.matcher(url);
        while (query.find()) {
            if (secretName(query.group(2)) && !query.group(3).isEmpty()) {
                addRawAndDecoded(out, query.group(3));
            }
        }
        return out;
    }

    /** A provider may echo the value as it was sent or as it read it. */
    private static void addRawAndDecoded(List<String> out, String value) {
        out.add(value);
        try {
            out.add(URLDecoder.decode(value, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            // not percent-encoded after all: the raw value is tracked
        }
    }

    /** The text with every tracked secret, every key-shaped token and every URL credential replaced. */
    public static String redact(String text) {
        if (text == null || text.isEmpty()) {
            return text;
        }
        String s = known.replace(text);
        s = maskUrls(s);
        s = PREFIXED.matcher(s).replaceAll(Matcher.quoteReplacement(MASK));
        s = AUTH_SCHEME.matcher(s).replaceAll(m -> Matcher.quoteReplacement(
                WORD.matcher(m.group(3)).matches() ? m.group() : m.group(1) + m.group(2) + MASK));
        return LONG_RUN.matcher(s).replaceAll(Redaction::longRun);
    }

    /** The text with the credentials of the URLs in it masked: {@code user:***@}, {@code ?api-key=***}. */
    public static String maskUrls(String text) {
        if (text == null || text.indexOf("://") < 0 && text.indexOf('=') < 0) {
            return text;
        }
        String s = URL_USERINFO.matcher(text).replaceAll(m -> {
            String info = m.group(2);
            int colon = info.indexOf(':');
            String masked = colon < 0 ? VALUE_MASK : info.substring(0, colon) + ":" + VALUE_MASK;
            return Matcher.quoteReplacement(m.group(1) + masked + "@");
        });
        return URL_QUERY_VALUE.matcher(s).replaceAll(m -> Matcher.quoteReplacement(
                secretName(m.group(2)) && !m.group(3).isEmpty() ? m.group(1) + VALUE_MASK : m.group()));
    }

    private static String longRun(MatchResult m) {
        String run = m.group();
        boolean keyLike = HEX.matcher(run).matches()
                || run.chars().anyMatch(Character::isDigit) && run.chars().anyMatch(Character::isUpperCase)
                        && run.chars().anyMatch(Character::isLowerCase);
        return Matcher.quoteReplacement(keyLike ? MASK : run);
    }

    /**
     * The tracked secrets in the forms they take when echoed (as they are, JSON-escaped, URL-encoded), found in one
     * pass: a long one by its last {@value #SHORT} characters (a hash lookup at each position of the text), a short
     * one by a pattern that wants it standing alone.
     */
    private record Known(Map<String, List<String>> byTail, Pattern shortOnes) {

        static final Known NONE = new Known(Map.of(), null);

        static Known of(Set<String> secrets) {
            Map<String, List<String>> byTail = new HashMap<>();
            List<String> shortOnes = new ArrayList<>();
            for (String secret : secrets) {
                for (String form : new LinkedHashSet<>(List.of(secret, secret.replace("/", "\\/"),
                        URLEncoder.encode(secret, StandardCharsets.UTF_8)))) {
                    if (form.length() < SHORT) {
                        shortOnes.add("(?<![A-Za-z0-9])" + Pattern.quote(form) + "(?![A-Za-z0-9])");
                    } else {
                        byTail.computeIfAbsent(form.substring(form.length() - SHORT), t -> new ArrayList<>()).add(form);
                    }
                }
            }
            return new Known(byTail, shortOnes.isEmpty() ? null : Pattern.compile(String.join("|", shortOnes)));
        }

        String replace(String text) {
            String s = text;
            if (!byTail.isEmpty()) {
                // every [start, end) a secret covers; overlapping ones are masked as one
                int[] masked = new int[s.length() + 1];
                boolean any = false;
                for (int end = SHORT; end <= s.length(); end++) {
                    List<String> candidates = byTail.get(s.substring(end - SHORT, end));
                    if (candidates != null) {
                        for (String form : candidates) {
                            int start = end - form.length();
                            if (start >= 0 && s.startsWith(form, start)) {
                                masked[start]++;
                                masked[end]--;
                                any = true;
                            }
                        }
                    }
                }
                if (any) {
                    StringBuilder out = new StringBuilder(s.length());
                    int depth = 0;
                    for (int i = 0; i < s.length(); i++) {
                        boolean was = depth > 0;
                        depth += masked[i];
                        if (depth > 0 && !was) {
                            out.append(MASK);
                        } else if (depth == 0) {
                            out.append(s.charAt(i));
                        }
                    }
                    s = out.toString();
                }
            }
            return shortOnes == null ? s : shortOnes.matcher(s).replaceAll(Matcher.quoteReplacement(MASK));
        }
    }
}
