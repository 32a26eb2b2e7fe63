package io.caravan.catalog;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Set;

/**
 * One entry under {@code tenants:}. {@code keyHashes} are the lowercase hex SHA-256 digests of the tenant's API
 * keys (a {@code ${ENV}} reference is hashed when the catalog is read); the keys themselves are never kept.
 * {@code budget} is USD per UTC month (null: none); {@code rpm}/{@code tpm} are for the tenant as a whole across
 * the fleet (null: none); {@code allowTiers}/{@code allowGroups} null mean every tier/group; {@code metadata} holds
 * the fields set on each of the tenant's tasks that does not set them itself.
 */
public record TenantSpec(String name, List<String> keyHashes, Double budget, Integer rpm, Integer tpm,
        Set<String> allowTiers, Set<String> allowGroups, String defaultTier, ObjectNode metadata, int weight) {

    /**
     * Whether the tenant may use this routing: a tier must be in {@code allow.tiers}; a group the task named itself
     * must be in {@code allow.groups} or be the group of a tier the tenant may use. Absent lists allow everything.
     */
    public boolean allows(String tier, String group, boolean namedGroup, Catalog catalog) {
        if (allowTiers == null && allowGroups == null) {
            return true;
        }
        if (!namedGroup) {
            return tier == null || allowTiers == null || allowTiers.contains(tier);
        }
        if (allowGroups != null && allowGroups.contains(group)) {
            return true;
        }
        return catalog.tiers().values().stream()
                .anyMatch(t -> t.group().equals(group) && (allowTiers == null || allowTiers.contains(t.name())));
    }

    @Override
    public String toString() {
        return "TenantSpec[" + name + ", keys=" + keyHashes.size() + "]";
    }
}
