package io.caravan.provider;

import io.caravan.resilience.ErrorClass;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * One line of an adapter's error table: when the HTTP status is one of {@code statuses} (empty: any), and the
 * provider's error code/type is {@code code} (null: any; case-insensitive), and the message matches
 * {@code message} (null: any; case-insensitive find), the answer is {@code errorClass}. Adapters keep an ordered
 * list; the first match wins and {@link #byStatus(int)} decides when none matches. A provider quirk is one line.
 */
public record ErrorRule(Set<Integer> statuses, String code, Pattern message, ErrorClass errorClass) {

    public static ErrorRule status(int status, ErrorClass errorClass) {
        return new ErrorRule(Set.of(status), null, null, errorClass);
    }

    public static ErrorRule code(String code, ErrorClass errorClass, int... statuses) {
        return new ErrorRule(set(statuses), code, null, errorClass);
    }

    public static ErrorRule message(String regex, ErrorClass errorClass, int... statuses) {
        return new ErrorRule(set(statuses), null, Pattern.compile(regex, Pattern.CASE_INSENSITIVE), errorClass);
    }

    public static ErrorRule codeAndMessage(String code, String regex, ErrorClass errorClass, int... statuses) {
        return new ErrorRule(set(statuses), code, Pattern.compile(regex, Pattern.CASE_INSENSITIVE), errorClass);
    }

    public boolean matches(int status, Collection<String> codes, String text) {
        if (!statuses.isEmpty() && !statuses.contains(status)) {
            return false;
        }
        if (code != null && (codes == null || codes.stream().noneMatch(c -> c != null && c.equalsIgnoreCase(code)))) {
            return false;
        }
        return message == null || (text != null && message.matcher(text).find());
    }

    /** The first matching rule's class, else the class the status alone implies. */
    public static ErrorClass classify(List<ErrorRule> rules, int status, Collection<String> codes, String text) {
        for (ErrorRule rule : rules) {
            if (rule.matches(status, codes, text)) {
                return rule.errorClass();
            }
        }
        return byStatus(status);
    }

    /** The contract's default reading of a bare status (section 6). */
    public static ErrorClass byStatus(int status) {
        return switch (status) {
            case 401, 403 -> ErrorClass.AUTH;
            case 402 -> ErrorClass.QUOTA_EXHAUSTED;
            case 404 -> ErrorClass.MODEL_NOT_FOUND;
            case 408 -> ErrorClass.TIMEOUT;
            case 429 -> ErrorClass.RATE_LIMITED;
            default -> status >= 400 && status < 500 ? ErrorClass.BAD_REQUEST : ErrorClass.SERVER_ERROR;
        };
    }

    private static Set<Integer> set(int... statuses) {
        return IntStream.of(statuses).boxed().collect(Collectors.toUnmodifiableSet());
    }

    @Override
    public String toString() {
        return "ErrorRule[" + statuses + (code == null ? "" : " code=" + code.toLowerCase(Locale.ROOT))
                + (message == null ? "" : " /" + message.pattern() + "/") + " -> " + errorClass + "]";
    }
}
