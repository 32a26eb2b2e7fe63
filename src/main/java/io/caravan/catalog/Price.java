package io.caravan.catalog;

/** USD per one million tokens. {@code cachedInput} is null when the provider has no cache discount. */
public record Price(double input, Double cachedInput, double output) {

    public static final Price FREE = new Price(0, null, 0);

    /** Cost of one call: cached input tokens at the cached price (or the input price when there is none). */
    public double cost(long inputTokens, long cachedInputTokens, long outputTokens) {
        long uncached = Math.max(0, inputTokens - cachedInputTokens);
        double cachedRate = cachedInput != null ? cachedInput : input;
        return (uncached * input + cachedInputTokens * cachedRate + outputTokens * output) / 1_000_000.0;
    }
}
