package io.caravan;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestCatalog;
import io.caravan.support.Upstreams;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Caravan's own long-lived threads (the spend ledger's and the batches topic's readers, the fleet's member count,
 * the provider calls' deadline timer, the catalog watcher) are threads of Camel's executor service manager, and
 * none outlives the Caravan that started it.
 */
class OwnThreadsTest {

    private static final List<String> OWN = List.of("caravan-spend-ledger", "caravan-batch-book",
            "caravan-fleet-members", "caravan-call-deadlines", "caravan-catalog-watch");

    @Test
    void ownThreadsAreCamelsAndStopWithTheCaravan() throws Exception {
        WireMockServer upstream = Upstreams.start();
        try {
            upstream.stubFor(post(urlEqualTo(Upstreams.path("p"))).willReturn(Upstreams.ok("hello")));
            String catalog = TestCatalog.create().openAi("p", upstream.baseUrl() + "/p/v1").model("fast", "p", "m")
                    .yaml();
            Caravan caravan = Caravan.start(catalog);
            try {
                // the deadline timer starts with the first provider call
                assertThat(caravan.post("/v1/tasks", "{\"prompt\":\"hi\"}").statusCode()).isEqualTo(200);
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(ownThreads().keySet())
                        .containsExactlyInAnyOrderElementsOf(OWN));
                assertThat(ownThreads().values()).allMatch(name -> name.startsWith("Camel ("));
            } finally {
                caravan.close();
            }
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(ownThreads()).isEmpty());
        } finally {
            upstream.stop();
        }
    }

    /** The live threads with one of Caravan's own names: own name -> the thread's full name. */
    private static Map<String, String> ownThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .flatMap(t -> OWN.stream().filter(own -> t.getName().endsWith(own))
                        .map(own -> Map.entry(own, t.getName())))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a + ", " + b));
    }
}
