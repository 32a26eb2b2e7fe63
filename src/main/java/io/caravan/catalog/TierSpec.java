package io.caravan.catalog;

/** One entry under {@code tiers:}; {@code maxScore} null means "everything above the cheaper tiers". */
public record TierSpec(String name, String group, Double maxScore) {}
