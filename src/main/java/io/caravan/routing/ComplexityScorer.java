package io.caravan.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The task side of the tier score: five features of the prompt, each scaled to 0..10, averaged.
 * The scales are chosen so that a one-line question scores near 0 and a long, data-heavy, multi-condition
 * analysis request near 10.
 */
public final class ComplexityScorer {

    /** Prompt tokens (about 4 characters each) at which the length feature saturates. */
    static final double LENGTH_SATURATION_TOKENS = 4000;
    /** Characters of structured data (code, JSON, tables) at which the data-size feature saturates. */
    static final double DATA_SATURATION_CHARS = 6000;

    private static final Pattern CONDITIONS = Pattern.compile(
            "\\b(if|unless|when|whenever|otherwise|else|except|only if|provided that|must|must not|should|"
                    + "at least|at most|no more than|depending on|in case)\\b");
    private static final Pattern REASONING = Pattern.compile(
            "\\b(why|explain|analy[sz]\\w*|compare|comparison|evaluate|assess|prove|derive|reason\\w*|"
                    + "step by step|trade-?offs?|justify|implications?|plan\\w*|design|strateg\\w*|synthes\\w*|"
                    + "critique|root cause|optimi[sz]\\w*)\\b");
    private static final Pattern CODE_FENCE = Pattern.compile("```.*?```", Pattern.DOTALL);
    private static final Pattern DATA_LINE = Pattern.compile("(?m)^.*([,;|\\t].*){2,}$|^\\s*[\\[{].*$");

    /** The features of a conversation, each 0..10. */
    public record Features(double length, double dataSize, double conditions, double contextDepth, double reasoning) {
        public double mean() {
            return (length + dataSize + conditions + contextDepth + reasoning) / 5.0;
        }
    }

    public Features features(ArrayNode messages) {
        String userText = UserText.of(messages);
        String lower = userText.toLowerCase(Locale.ROOT);
        double tokens = userText.length() / 4.0;
        double length = scale(tokens, LENGTH_SATURATION_TOKENS);
        double data = scale(dataChars(userText), DATA_SATURATION_CHARS);
        double conditions = Math.min(10, count(CONDITIONS, lower) * 1.5);
        double depth = Math.min(10, Math.max(0, messages.size() - 1) * 1.0);
        double reasoning = Math.min(10, count(REASONING, lower) * 2.0);
        return new Features(length, data, conditions, depth, reasoning);
    }

    /** Mean of the agent's scores (each clamped to 0..10), or null when the task has none. */
    public static Double agentScore(Map<String, Double> scores) {
        if (scores == null || scores.isEmpty()) {
            return null;
        }
        return scores.values().stream().mapToDouble(s -> Math.max(0, Math.min(10, s))).average().orElseThrow();
    }

    private static double scale(double value, double saturation) {
        return Math.min(10, 10 * value / saturation);
    }

    private static int dataChars(String text) {
        int chars = 0;
        Matcher fences = CODE_FENCE.matcher(text);
        while (fences.find()) {
            chars += fences.group().length();
        }
        String rest = CODE_FENCE.matcher(text).replaceAll("");
        Matcher lines = DATA_LINE.matcher(rest);
        while (lines.find()) {
            chars += lines.group().length();
        }
        return chars;
    }

    private static int count(Pattern pattern, String text) {
        Matcher m = pattern.matcher(text);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    /** The text a user wrote: the string content (or text parts) of every user message. */
    static final class UserText {
        private UserText() {}

        static String of(ArrayNode messages) {
            StringBuilder text = new StringBuilder();
            for (JsonNode m : messages) {
                if (!"user".equals(m.path("role").asText())) {
                    continue;
                }
                JsonNode content = m.get("content");
                if (content == null) {
                    continue;
                }
                if (content.isTextual()) {
                    text.append(content.asText()).append('\n');
                } else if (content.isArray()) {
                    for (JsonNode part : content) {
                        if (part.hasNonNull("text")) {
                            text.append(part.get("text").asText()).append('\n');
                        }
                    }
                }
            }
            return text.toString();
        }
    }
}
