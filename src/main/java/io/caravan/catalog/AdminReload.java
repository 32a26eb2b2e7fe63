package io.caravan.catalog;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.intake.HttpIntake;
import io.caravan.util.Json;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.builder.RouteBuilder;

/**
 * {@code POST /admin/reload}, only when {@code caravan.admin.api-key} is set: with {@code Authorization: Bearer
 * <that key>} (compared in constant time) reloads the catalog; 200 when swapped in, 422 with the one-line error
 * when the new catalog is invalid (the old one keeps serving), 401 without the right key.
 */
public final class AdminReload extends RouteBuilder {

    private final CatalogReloader reloader;
    private final byte[] expected;

    public AdminReload(CatalogReloader reloader, String adminKey) {
        this.reloader = reloader;
        this.expected = ("Bearer " + adminKey).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void configure() {
        from("platform-http:/admin/reload?httpMethodRestrict=POST")
                .routeId("admin-reload")
                .process(this::handle);
    }

    void handle(Exchange exchange) {
        Message in = exchange.getMessage();
        String auth = in.getHeader("Authorization", String.class);
        ObjectNode body = Json.object();
        int status;
        if (auth == null || !MessageDigest.isEqual(expected, auth.getBytes(StandardCharsets.UTF_8))) {
            status = 401;
            body.put("error", "unauthorized");
        } else {
            CatalogReloader.Outcome outcome = reloader.reload();
            status = outcome.reloaded() ? 200 : 422;
            body.put("status", outcome.reloaded() ? "reloaded" : "rejected");
            body.put("message", outcome.message());
            body.put("reloads", reloader.reloads());
        }
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        out.setBody(HttpIntake.jsonBody(body));
    }
}
