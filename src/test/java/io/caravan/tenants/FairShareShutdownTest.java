package io.caravan.tenants;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.cli.KeysCommand;
import io.caravan.support.Caravan;
import io.caravan.support.LimitedProvider;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A Caravan stopped while tenants' tasks wait in a provider's fair-share lane: the HTTP caller still waiting is
 * answered 503 in OpenAI's error shape, the Kafka tasks waiting are left uncommitted (the next member of the group
 * answers them), and no task is woken into a stopped route (no RejectedExecutionException in the log).
 */
class FairShareShutdownTest {

    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static String catalog(String provider) {
        return "providers:\n" + provider + """
                models:
                  - {name: cheap, provider: oai, model: gpt-cheap, price: {input: 1, output: 1}}
                tiers:
                  fast: {model: cheap}
                tenants:
                  acme:
                    api_keys: ["%s"]
                """.formatted(KeysCommand.hashLine(TenantFixtures.ACME_KEY));
    }

    static byte[] task(String id) {
        return ("{\"id\":\"" + id + "\",\"model\":\"cheap\",\"prompt\":\"hello\",\"metadata\":{\"tenant\":\"acme\"}}")
                .getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void tasksWaitingForCapacityAtStopAreAnswered503OrLeftUncommittedWithoutAnErrorLogged() throws Exception {
        String prefix = Caravan.newPrefix();
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        CompletableFuture<HttpResponse<String>> waiting;
        // one call an hour: the first task takes it, the others queue in the lane (windows are aligned on the
        // clock: not in the last minute of one, so that no refill falls inside the test)
        await().atMost(Duration.ofSeconds(70)).until(() -> System.currentTimeMillis() % 3_600_000 < 3_540_000);
        try (LimitedProvider provider = new LimitedProvider(1, 3_600_000, 0)) {
            Caravan caravan = Caravan.start(catalog(provider.provider("oai", "\"sk-upstream-0123456789\"", "rpm: 1")),
                    Map.of(), Map.of("caravan.limits.window", "1h", "caravan.shutdown.grace", "1s",
                            "caravan.task.default-timeout-ms", "7200000"), prefix);
            try {
                TestKafka.sendToPartition(caravan.tasksTopic, 0, List.of(task("first")));
                assertThat(TestKafka.readKeys(caravan.resultsTopic, List.of("first"), Duration.ofSeconds(30)))
                        .hasSize(1);
                TestKafka.sendToPartition(caravan.tasksTopic, 0, List.of(task("wait-1"), task("wait-2")));
                waiting = HTTP.sendAsync(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + caravan.httpPort + "/v1/chat/completions"))
                        .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                        .header("Authorization", "Bearer " + TenantFixtures.ACME_KEY)
                        .POST(HttpRequest.BodyPublishers.ofString(
                                "{\"model\":\"cheap\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                await().atMost(Duration.ofSeconds(30)).until(() -> waiting(caravan) == 3);
                logs.start();
                root.addAppender(logs);
            } finally {
                caravan.close();
                root.detachAppender(logs);
            }
            assertThat(provider.seen()).as("calls made").hasSize(1);
        }

        // the HTTP caller is answered: 503 in OpenAI's error shape
        HttpResponse<String> answer = waiting.get(10, TimeUnit.SECONDS);
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(503);
        assertThat(answer.headers().firstValue("Retry-After")).hasValue("1");
        JsonNode error = Json.MAPPER.readTree(answer.body()).path("error");
        assertThat(error.path("type").asText()).isEqualTo("server_error");
        assertThat(error.path("message").asText()).contains("stopping");
        // nothing woken into a stopped route
        assertThat(logs.list).filteredOn(e -> mentions(e, "RejectedExecutionException")).isEmpty();
        assertThat(logs.list).filteredOn(e -> e.getLevel().isGreaterOrEqual(Level.ERROR)).isEmpty();
        // the Kafka tasks: no result and no commit, so the next member of the group answers them
        assertThat(TestKafka.committed(prefix + "-group", prefix + ".tasks", 0)).isEqualTo(1);
        WireMockServer upstream = Upstreams.start();
        try {
            upstream.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(Upstreams.ok("hello again")));
            try (Caravan next = Caravan.start(catalog("""
                      oai: {api: openai, base_url: "http://127.0.0.1:%d/v1", api_keys: ["sk-next"], retries: 0}
                    """.formatted(upstream.port())), Map.of(), Map.of(), prefix)) {
                var results = TestKafka.readKeys(next.resultsTopic, List.of("first", "wait-1", "wait-2"),
                        Duration.ofSeconds(30));
                assertThat(results.stream().filter(r -> !r.key().equals("first")))
                        .extracting(r -> Json.MAPPER.readTree(r.value()).path("status").asText())
                        .containsExactly("ok", "ok");
                assertThat(results.stream().filter(r -> r.key().equals("first"))).hasSize(1);
            }
        } finally {
            upstream.stop();
        }
    }

    static int waiting(Caravan caravan) {
        return caravan.app().fairShare().waiting().values().stream()
                .mapToInt(byTenant -> byTenant.values().stream().mapToInt(Integer::intValue).sum()).sum();
    }

    static boolean mentions(ILoggingEvent e, String text) {
        if (e.getFormattedMessage() != null && e.getFormattedMessage().contains(text)) {
            return true;
        }
        for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
            if (t.getClassName().contains(text) || (t.getMessage() != null && t.getMessage().contains(text))) {
                return true;
            }
        }
        return false;
    }
}
