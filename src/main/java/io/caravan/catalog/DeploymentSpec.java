package io.caravan.catalog;

/**
 * One entry under {@code models:}. Entries sharing a {@code name} form a group; {@code id} is
 * {@code name#index-within-group}, the name results, usage events and metrics use for a deployment.
 */
public record DeploymentSpec(
        String id,
        String group,
        String provider,
        String model,
        Integer contextWindow,
        Integer maxOutputTokens,
        Price price,
        int weight) {

    /** A name safe inside a Camel endpoint URI or route id ({@code kimi-k2#0} becomes {@code kimi-k2-0}). */
    public String routeKey() {
        return id.replaceAll("[^A-Za-z0-9._-]", "-");
    }
}
