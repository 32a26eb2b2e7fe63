package io.caravan.catalog;

import java.time.Duration;
import java.util.Map;

/**
 * The catalog's batch side: per provider its {@code batch:} block (absent or {@code enabled: false}: the provider
 * is never used the batch way), and per deployment the price of its batch requests (the model's
 * {@code price.batch_*} fields, or {@code batch_discount} applied to the online price, else half the online price:
 * what every provider's batch API charges).
 */
public record BatchSpec(Map<String, Provider> providers, Map<String, Price> prices) {

    public static final BatchSpec NONE = new BatchSpec(Map.of(), Map.of());
    /** The discount every provider's batch API gives today, used when a model states no batch price. */
    public static final double DEFAULT_DISCOUNT = 0.5;

    /**
     * One provider's {@code batch:} block. {@code minSlack}: the least time a task's deadline must leave for it to
     * go the batch way (default the provider's {@code window}); {@code poll}: how often an open batch's status is
     * asked; {@code collect}: how long tasks are gathered into one batch before it is sent.
     */
    public record Provider(boolean enabled, int maxRequests, long maxBytes, Duration window, Duration minSlack,
            Duration poll, Duration collect) {
        public static final int DEFAULT_MAX_REQUESTS = 50_000;
        public static final long DEFAULT_MAX_BYTES = 200L * 1024 * 1024;
        public static final Duration DEFAULT_WINDOW = Duration.ofHours(24);
        public static final Duration DEFAULT_POLL = Duration.ofSeconds(60);
        public static final Duration DEFAULT_COLLECT = Duration.ofMinutes(5);
    }

    /** The provider's batch block when it is enabled, else null. */
    public Provider enabledFor(String provider) {
        Provider p = providers.get(provider);
        return p != null && p.enabled() ? p : null;
    }

    /** The price of the deployment's batch requests. */
    public Price priceOf(DeploymentSpec deployment) {
        Price p = prices.get(deployment.id());
        return p != null ? p : discounted(deployment.price(), DEFAULT_DISCOUNT);
    }

    static Price discounted(Price online, double discount) {
        return new Price(online.input() * discount,
                online.cachedInput() == null ? null : online.cachedInput() * discount, online.output() * discount);
    }
}
