package io.caravan.shaping;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static io.caravan.shaping.Shaping.ok;
import static io.caravan.shaping.Shaping.okTask;
import static io.caravan.shaping.Shaping.path;
import static io.caravan.shaping.Shaping.provider;
import static io.caravan.shaping.Shaping.received;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/** The live catalog: the file changes under a stream of tasks; an invalid file is rejected; /admin/reload. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CatalogReloadTest {

    static final String ADMIN = "admin-secret-1";
    static WireMockServer upstream;
    static Caravan caravan;
    static Path file;

    static String catalog(String workProvider, String extra) {
        return "providers:\n"
                + provider(upstream, "one", "\"k\"", "")
                + provider(upstream, "two", "\"k\"", "")
                + provider(upstream, "three", "\"k\"", "")
                + provider(upstream, "idle", "\"k\"", "")
                + """
                models:
                  - {name: work, provider: %s, model: m, price: {input: 1, output: 1}}
                %s
                tiers:
                  balanced: {model: work}
                """.formatted(workProvider, extra);
    }

    static void write(String yaml) throws Exception {
        Path tmp = file.resolveSibling("catalog.yaml.tmp");
        Files.writeString(tmp, yaml);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        for (String p : List.of("one", "two", "three")) {
            upstream.stubFor(post(urlEqualTo(path(p))).willReturn(ok("from " + p, 10, 5).withFixedDelay(50)));
        }
        caravan = Caravan.start(catalog("one", ""), Map.of(),
                Map.of("caravan.catalog.watch-interval", "100ms", "caravan.admin.api-key", ADMIN));
        file = Path.of(caravan.app().settings().get("caravan.catalog"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (caravan != null) {
            caravan.close();
        }
        if (upstream != null) {
            upstream.stop();
        }
    }

    @Test
    @Order(1)
    void aChangedFileIsSwappedInMidStreamWithoutLosingOrDuplicatingTasks() throws Exception {
        CircuitBreaker breakerBefore = caravan.app().breakers().find("work#0");
        caravan.app().keys().coolDown("idle", 0, Duration.ofHours(1));
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<Future<JsonNode>> futures = new ArrayList<>();
        try {
            for (int i = 0; i < 40; i++) {
                String id = "stream-" + i;
                futures.add(pool.submit(() -> okTask(caravan,
                        "{\"id\":\"" + id + "\",\"prompt\":\"go\",\"timeout_ms\":20000}")));
            }
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> received(upstream, "one").size() >= 10);
            write(catalog("two", "  - {name: extra, provider: three, model: m, price: {input: 1, output: 1}}"));
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> caravan.app().catalogReloads() == 1);
            Set<String> ids = new HashSet<>();
            for (Future<JsonNode> f : futures) {
                JsonNode r = f.get();
                assertThat(r.path("attempts")).hasSize(1);
                ids.add(r.path("id").asText());
            }
            assertThat(ids).hasSize(40);
        } finally {
            pool.shutdownNow();
        }
        // every task made exactly one call, to one deployment or the other
        assertThat(received(upstream, "one").size() + received(upstream, "two").size()).isEqualTo(40);
        assertThat(received(upstream, "two")).isNotEmpty();
        // new tasks follow the new catalog, including a group that did not exist before
        assertThat(okTask(caravan, "{\"prompt\":\"after\"}").path("provider").asText()).isEqualTo("two");
        assertThat(okTask(caravan, "{\"model\":\"extra\",\"prompt\":\"new group\"}").path("provider").asText())
                .isEqualTo("three");
        // the breaker of the unchanged deployment id survived the swap
        assertThat(caravan.app().breakers().find("work#0")).isSameAs(breakerBefore);
        // and so did the cooldown of an unchanged provider's key
        assertThat(caravan.app().keys().untilAvailable("idle")).isGreaterThan(Duration.ofMinutes(50));
    }

    @Test
    @Order(2)
    void anInvalidFileIsRejectedAndTheOldCatalogKeepsServing() throws Exception {
        long rejectedBefore = caravan.app().reloader().rejected();
        long reloadsBefore = caravan.app().catalogReloads();
        write(catalog("two", "fallbacks:\n  work: [nowhere]"));
        Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> caravan.app().reloader().rejected() == rejectedBefore + 1);
        assertThat(caravan.app().reloader().lastError()).contains("fallbacks.work").contains("unknown group 'nowhere'")
                .doesNotContain("\n");
        assertThat(caravan.app().catalogReloads()).isEqualTo(reloadsBefore);
        assertThat(okTask(caravan, "{\"prompt\":\"still served\"}").path("provider").asText()).isEqualTo("two");
    }

    @Test
    @Order(3)
    void adminReloadNeedsTheAdminKeyAndReportsRejections() throws Exception {
        caravan.app().reloader().close(); // from here on only the admin endpoint reloads
        write(catalog("one", ""));
        assertThat(adminReload(null).statusCode()).isEqualTo(401);
        assertThat(adminReload("Bearer wrong").statusCode()).isEqualTo(401);
        long reloadsBefore = caravan.app().catalogReloads();
        HttpResponse<String> ok = adminReload("Bearer " + ADMIN);
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(caravan.app().catalogReloads()).isEqualTo(reloadsBefore + 1);
        assertThat(okTask(caravan, "{\"prompt\":\"back to one\"}").path("provider").asText()).isEqualTo("one");

        write("providers: {}\n");
        HttpResponse<String> bad = adminReload("Bearer " + ADMIN);
        assertThat(bad.statusCode()).isEqualTo(422);
        assertThat(bad.body()).contains("rejected").contains("providers");
        assertThat(okTask(caravan, "{\"prompt\":\"still one\"}").path("provider").asText()).isEqualTo("one");
    }

    static HttpResponse<String> adminReload(String auth) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + caravan.httpPort + "/admin/reload"))
                .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.noBody());
        if (auth != null) {
            request.header("Authorization", auth);
        }
        return HttpClient.newHttpClient().send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
