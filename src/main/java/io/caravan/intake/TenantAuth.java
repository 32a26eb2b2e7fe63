package io.caravan.intake;

import io.caravan.outlet.OpenAiWire;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogHolder;
import io.caravan.catalog.TenantSpec;
import io.caravan.util.Json;
import io.caravan.util.Sha256;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Who is calling {@code /v1/*}: one handler on platform-http's Vert.x router, before every {@code /v1} route and
 * before the body is read. With a {@code tenants:} block in the catalog in force, the bearer key names the
 * tenant: its SHA-256 is looked up among the tenants' key hashes (the catalog stores only hashes; a lookup by
 * digest says nothing, by its time, of how close a guess was), and the tenant travels on to the task as the
 * request header {@link #TENANT_HEADER}, which this handler first removes from every request, so no caller can
 * set it. {@code caravan.http.api-keys} are then keys of the tenant {@value #DEFAULT_TENANT}. A request without
 * a known key is 401. Without tenants, {@code caravan.http.api-keys} alone decides, as {@link ApiKeyAuth} does.
 * The index follows catalog reloads: a key added is known, a key removed is refused, at the next request.
 */
public final class TenantAuth implements Handler<RoutingContext> {

    /** The header carrying the tenant the key names to the task (set here only). */
    public static final String TENANT_HEADER = "caravan-key-tenant";
    public static final String DEFAULT_TENANT = "default";
    private static final String PREFIX = "Bearer ";

    private final CatalogHolder catalogs;
    private final List<String> legacyHashes;
    private final ApiKeyAuth legacy;
    private volatile Index index;

    /** The key hashes of one catalog. */
    private record Index(Catalog catalog, Map<String, String> tenantByHash) {}

    public TenantAuth(CatalogHolder catalogs, List<String> apiKeys) {
        this.catalogs = catalogs;
        this.legacyHashes = apiKeys.stream().map(Sha256::hex).toList();
        this.legacy = apiKeys.isEmpty() ? null : new ApiKeyAuth(apiKeys);
    }

    /** Whether any request of {@code /v1} needs a key: tenants in the catalog, or the api-keys setting. */
    public boolean active() {
        return legacy != null || catalogs.current().hasTenants();
    }

    @Override
    public void handle(RoutingContext rc) {
        rc.request().headers().remove(TENANT_HEADER);
        Catalog catalog = catalogs.current();
        if (!catalog.hasTenants()) {
            if (legacy == null) {
                rc.next();
            } else {
                legacy.handle(rc);
            }
            return;
        }
        String tenant = tenantOf(rc.request().getHeader("Authorization"), catalog);
        if (tenant == null) {
            refuse(rc);
            return;
        }
        rc.request().headers().set(TENANT_HEADER, tenant);
        rc.next();
    }

    /** The tenant an {@code Authorization} header's key is of, in this catalog, or null. */
    public String tenantOf(String authorization, Catalog catalog) {
        if (authorization == null || authorization.length() <= PREFIX.length()
                || !authorization.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
            return null;
        }
        return index(catalog).tenantByHash().get(Sha256.hex(authorization.substring(PREFIX.length()).trim()));
    }

    private Index index(Catalog catalog) {
        Index known = index;
        if (known != null && known.catalog() == catalog) {
            return known;
        }
        Map<String, String> byHash = new HashMap<>();
        legacyHashes.forEach(h -> byHash.put(h, DEFAULT_TENANT));
        for (TenantSpec t : catalog.tenants().values()) {
            t.keyHashes().forEach(h -> byHash.put(h, t.name()));
        }
        Index fresh = new Index(catalog, Map.copyOf(byHash));
        index = fresh;
        return fresh;
    }

    private static void refuse(RoutingContext rc) {
        byte[] body = Json.bytes(OpenAiWire.errorBody(
                "missing or unknown API key: send Authorization: Bearer KEY", "invalid_request_error",
                "invalid_api_key"));
        rc.response().setStatusCode(401)
                .putHeader("Content-Type", "application/json")
                .putHeader("WWW-Authenticate", "Bearer")
                .end(io.vertx.core.buffer.Buffer.buffer(body));
    }
}
