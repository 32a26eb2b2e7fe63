package io.caravan.provider;

/**
 * Token counts normalised across providers: {@code input} counts every prompt token, cached ones included;
 * {@code cachedInput} is the part read from the provider's cache; {@code cacheWrite} the part written to it
 * (Anthropic), already included in {@code input}.
 */
public record TokenUsage(long input, long cachedInput, long output, long cacheWrite) {

    public static final TokenUsage NONE = new TokenUsage(0, 0, 0, 0);

    public TokenUsage(long input, long cachedInput, long output) {
        this(input, cachedInput, output, 0);
    }

    /** Usage from an API that counts cache reads and writes apart from the other input (Anthropic, Converse). */
    public static TokenUsage cacheApart(long uncachedInput, long cacheRead, long cacheWrite, long output) {
        return new TokenUsage(uncachedInput + cacheRead + cacheWrite, cacheRead, output, cacheWrite);
    }
}
