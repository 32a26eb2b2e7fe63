package io.caravan.operations;

import io.caravan.accounting.SpendLedger;
import io.caravan.catalog.CatalogHolder;
import io.caravan.resilience.Breakers;
import io.caravan.util.Json;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

/** The beans behind {@code routes/operations.yaml}: {@code /metrics}, {@code /status}, {@code /health/*}, {@code /}. */
public final class OperationsEndpoints {

    static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    /** The live page may talk to this Caravan only: its own inline script and style, nothing from elsewhere. */
    static final String PAGE_POLICY = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            + "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    private static final String PAGE = livePage();

    private final TaskMetrics metrics;
    private final StatusBoard board;
    private final Health health;
    private final CatalogHolder catalogs;
    private final Breakers breakers;
    private final SpendLedger ledger;

    public OperationsEndpoints(TaskMetrics metrics, StatusBoard board, Health health, CatalogHolder catalogs,
            Breakers breakers, SpendLedger ledger) {
        this.metrics = metrics;
        this.board = board;
        this.health = health;
        this.catalogs = catalogs;
        this.breakers = breakers;
        this.ledger = ledger;
    }

    public void metrics(Exchange exchange) {
        answer(exchange, 200, PROMETHEUS_TEXT, metrics.scrape());
    }

    public void status(Exchange exchange) {
        answer(exchange, 200, "application/json", Json.text(board.render(catalogs, breakers, ledger)));
    }

    /** {@code GET /}: the live page, which refreshes itself from {@code /status} and {@code /metrics}. */
    public void page(Exchange exchange) {
        answer(exchange, 200, "text/html; charset=utf-8", PAGE);
        exchange.getMessage().setHeader("Content-Security-Policy", PAGE_POLICY);
        exchange.getMessage().setHeader("Cache-Control", "no-cache");
    }

    private static String livePage() {
        try (var in = OperationsEndpoints.class.getResourceAsStream("/live/index.html")) {
            if (in == null) {
                throw new IllegalStateException("live/index.html is missing from the jar");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    public void live(Exchange exchange) {
        var liveness = health.liveness();
        boolean up = "UP".equals(liveness.path("status").asText());
        answer(exchange, up ? 200 : 503, "application/json", Json.text(liveness));
    }

    public void ready(Exchange exchange) {
        var readiness = health.readiness(exchange.getContext());
        boolean up = "UP".equals(readiness.path("status").asText());
        answer(exchange, up ? 200 : 503, "application/json", Json.text(readiness));
    }

    private static void answer(Exchange exchange, int status, String contentType, String body) {
        Message out = exchange.getMessage();
        out.getHeaders().clear();
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        out.setHeader(Exchange.CONTENT_TYPE, contentType);
        out.setBody(body);
    }
}
