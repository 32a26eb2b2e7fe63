package io.caravan.intake;

import io.caravan.util.Json;
import io.caravan.util.Sha256;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;

/**
 * {@code caravan.http.api-keys}: when set, every {@code /v1/*} request needs {@code Authorization: Bearer KEY}
 * with one of the keys, else 401 in OpenAI's error shape. One handler on platform-http's Vert.x router, installed
 * once by {@link HttpEdgeServer} when the router is made and ordered before every route, so it covers each
 * {@code /v1} route there is or will be, and it answers before the body is read (an unauthenticated caller cannot
 * make Caravan buffer a large body). Keys are compared as SHA-256 digests
 * with {@link MessageDigest#isEqual}, every key every time: the time taken says nothing about how close a guess was.
 */
public final class ApiKeyAuth implements Handler<RoutingContext> {

    private static final String PREFIX = "Bearer ";

    private final List<byte[]> digests;

    public ApiKeyAuth(List<String> keys) {
        this.digests = keys.stream().map(Sha256::digest).toList();
    }

    /** The keys of the setting (comma-separated, blanks dropped); empty when the setting is unset. */
    public static List<String> parse(String setting) {
        if (setting == null) {
            return List.of();
        }
        return Arrays.stream(setting.split(",")).map(String::trim).filter(k -> !k.isEmpty()).toList();
    }

    public boolean allows(String authorization) {
        if (authorization == null || authorization.length() <= PREFIX.length()
                || !authorization.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
            return false;
        }
        byte[] given = Sha256.digest(authorization.substring(PREFIX.length()).trim());
        boolean match = false;
        for (byte[] key : digests) {
            match |= MessageDigest.isEqual(key, given);
        }
        return match;
    }

    @Override
    public void handle(RoutingContext rc) {
        if (allows(rc.request().getHeader("Authorization"))) {
            rc.next();
            return;
        }
        byte[] body = Json.bytes(io.caravan.outlet.OpenAiWire.errorBody(
                "missing or wrong API key: send Authorization: Bearer KEY", "invalid_request_error", "invalid_api_key"));
        rc.response().setStatusCode(401)
                .putHeader("Content-Type", "application/json")
                .putHeader("WWW-Authenticate", "Bearer")
                .end(io.vertx.core.buffer.Buffer.buffer(body));
    }
}
