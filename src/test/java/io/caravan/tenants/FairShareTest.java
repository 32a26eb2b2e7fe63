package io.caravan.tenants;

import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/**
 * Issue 16, fair share: tenant acme floods 1,000 tasks on Kafka at a provider limited to 20 calls a second;
 * tenant globex then sends 20 interactive calls. With equal weights the two take turns at the provider, so
 * globex's 20 calls are answered while acme makes about as many, not after a place behind acme's flood.
 */
public class FairShareTest {

    public static final int PER_WINDOW = 20; // the provider's rpm, per one-second window here
    static final String PATH = "/oai/v1/chat/completions";

    /** What globex's calls met: their latencies (ms, sorted) and how many calls acme made meanwhile. */
    public record Run(List<Long> latencies, int floodCallsMeanwhile) {
        public long p50() {
            return latencies.get(latencies.size() / 2);
        }

        public long max() {
            return latencies.get(latencies.size() - 1);
        }
    }

    /** The run: acme's flood, then globex's calls once the flood waits for the provider. */
    public static Run floodThenInteractive(Caravan caravan, WireMockServer upstream, int flood, int interactive)
            throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        // one call first, while the provider is idle: the client's and the HTTP path's first-use costs (class
        // loading, on a loaded machine seconds) are not counted as waiting behind the flood
        assertThat(interactive(caravan, http).statusCode()).isEqualTo(200);
        try (KafkaProducer<String, byte[]> producer = TestKafka.producer()) {
            for (int i = 0; i < flood; i++) {
                ProducerRecord<String, byte[]> r = new ProducerRecord<>(caravan.tasksTopic, "flood-" + i,
                        ("{\"id\":\"flood-" + i + "\",\"prompt\":\"batch work\"}").getBytes(StandardCharsets.UTF_8));
                r.headers().add("caravan-tenant", "acme".getBytes(StandardCharsets.UTF_8));
                producer.send(r);
            }
            producer.flush();
        }
        // the flood fills the intake's slots, and the tasks taken in have been through the router to the provider
        // and wait for it, before the interactive calls come (so that they do not also wait for the CPU the flood's
        // first steps take: up to a poll's 500 records at once)
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                .until(() -> floodSettled(caravan, upstream));
        int floodBefore = floodCalls(upstream);
        ExecutorService pool = Executors.newFixedThreadPool(interactive);
        try {
            List<Future<Long>> sent = new ArrayList<>();
            for (int i = 0; i < interactive; i++) {
                sent.add(pool.submit(() -> {
                    long start = System.nanoTime();
                    HttpResponse<String> r = interactive(caravan, http);
                    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                    return (System.nanoTime() - start) / 1_000_000L;
                }));
            }
            List<Long> latencies = new ArrayList<>();
            for (Future<Long> f : sent) {
                latencies.add(f.get());
            }
            int floodMeanwhile = floodCalls(upstream) - floodBefore;
            latencies.sort(null);
            return new Run(latencies, floodMeanwhile);
        } finally {
            pool.shutdownNow();
        }
    }

    static HttpResponse<String> interactive(Caravan caravan, HttpClient http) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + caravan.httpPort + "/v1/tasks"))
                .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + TenantFixtures.GLOBEX_KEY)
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"interactive\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** acme's tasks fill the slots and wait: queued for the provider, or (without fair share) sleeping. */
    static boolean floodSettled(Caravan caravan, WireMockServer upstream) {
        int inFlight = caravan.app().inFlight().inFlight();
        if (inFlight < 250 || floodCalls(upstream) < 2 * PER_WINDOW) {
            return false;
        }
        if (!caravan.app().settings().get(io.caravan.Setting.TENANTS_FAIR_SHARE)) {
            return floodCalls(upstream) >= 4 * PER_WINDOW; // nothing to count them by: a few windows on
        }
        int queued = caravan.app().fairShare().waiting().getOrDefault("oai", Map.of()).getOrDefault("acme", 0);
        return queued >= inFlight - 2 * PER_WINDOW;
    }

    static int floodCalls(WireMockServer upstream) {
        return upstream.findAll(postRequestedFor(urlEqualTo(PATH)).withRequestBody(containing("batch work"))).size();
    }

    public static WireMockServer upstream() {
        WireMockServer upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(PATH)).willReturn(Upstreams.ok("done")));
        return upstream;
    }

    public static String catalog(WireMockServer upstream) {
        return TenantFixtures.catalog(upstream, "", "").replace("    retries: 0\n",
                "    retries: 0\n    rpm: " + PER_WINDOW + "\n");
    }

    public static Map<String, String> settings(boolean fair) {
        return Map.of("caravan.limits.window", "1s", "caravan.shutdown.grace", "1s",
                "caravan.tenants.fair-share", String.valueOf(fair));
    }

    @Test
    void aFloodOfOneTenantDoesNotStarveAnothersInteractiveCalls() throws Exception {
        WireMockServer upstream = upstream();
        try (Caravan caravan = Caravan.start(catalog(upstream), Map.of(), settings(true))) {
            Run globex = floodThenInteractive(caravan, upstream, 1000, 20);
            System.out.println("fair share: globex's 20 calls behind acme's flood took p50 " + globex.p50()
                    + " ms, max " + globex.max() + " ms; acme made " + globex.floodCallsMeanwhile() + " calls meanwhile");
            // taking turns, acme makes one call per call of globex's once globex's tasks wait (20), besides the
            // window's calls it was given before they came (20) and those it makes while globex's requests are on
            // their way in (a few windows on a loaded machine); a place behind the flood's 256 waiting tasks, racing
            // them for every window (caravan.tenants.fair-share=false), lets acme make several hundred
            assertThat(globex.floodCallsMeanwhile()).isLessThanOrEqualTo(20 + PER_WINDOW + 3 * PER_WINDOW);
            // and its tasks are still waiting then: globex was not served after the flood
            assertThat(caravan.app().inFlight().inFlight()).isGreaterThan(100);
        } finally {
            upstream.stop();
        }
    }
}
