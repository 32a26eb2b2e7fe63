package io.caravan.intake;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.support.TestCatalog;
import io.caravan.support.Upstreams;
import io.caravan.task.TaskContext;
import io.caravan.util.Json;
import io.vertx.core.http.HttpServerResponse;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.camel.Exchange;
import org.apache.camel.builder.AdviceWith;
import org.apache.camel.component.platform.http.vertx.HttpMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A JVM error while a task is on an HTTP door stops the process as on Kafka ({@link FatalErrors}), once the caller
 * has its answer: 503 {@code server_error} in OpenAI's error shape. An ordinary exception is answered 500 and the
 * process goes on. The breakage is a bean put into the task route with AdviceWith (Camel hands its Error to the
 * route wrapped), and the halt is recorded instead of stopping the test JVM.
 */
class HttpFatalErrorTest {

    static WireMockServer upstream;
    static Caravan caravan;
    /** The HTTP response of the last task that broke: was it written when the process was told to stop? */
    static volatile HttpServerResponse lastResponse;

    /** Breaks the task route after the provider call, as the task's metadata says. */
    public static final class Breakage {
        public void afterDispatch(Exchange exchange) {
            JsonNode metadata = TaskContext.of(exchange).task().metadata();
            String kind = metadata == null ? "" : metadata.path("break").asText();
            if (kind.isEmpty()) {
                return;
            }
            lastResponse = exchange.getIn() instanceof HttpMessage m ? m.getResponse() : null;
            if (kind.equals("stack-overflow")) {
                throw new StackOverflowError("simulated");
            }
            throw new IllegalStateException("simulated bug");
        }
    }

    @BeforeAll
    static void start() throws Exception {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(Upstreams.path("p"))).willReturn(Upstreams.ok("hello")));
        caravan = Caravan.start(TestCatalog.create().openAi("p", upstream.baseUrl() + "/p/v1").model("fast", "p", "m")
                .yaml());
        AdviceWith.adviceWith(caravan.app().camelContext(), "task", route -> route
                .weaveByToUri("direct:dispatch").after().bean(new Breakage(), "afterDispatch"));
    }

    @AfterAll
    static void stop() throws Exception {
        caravan.close();
        upstream.stop();
    }

    static String body(String door, String kind) {
        return door.equals("/v1/tasks")
                ? "{\"prompt\":\"hi\",\"metadata\":{\"break\":\"" + kind + "\"}}"
                : "{\"model\":\"fast\",\"metadata\":{\"break\":\"" + kind + "\"},"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    @ParameterizedTest
    @ValueSource(strings = {"/v1/tasks", "/v1/chat/completions"})
    void aJvmErrorIsAnswered503AndThenStopsTheProcess(String door) throws Exception {
        List<Boolean> haltedAfterAnswer = new CopyOnWriteArrayList<>();
        List<Integer> statuses = new CopyOnWriteArrayList<>();
        caravan.app().fatalErrors().haltWith(status -> {
            haltedAfterAnswer.add(lastResponse != null && lastResponse.ended());
            statuses.add(status);
        });

        HttpResponse<String> response = caravan.post(door, body(door, "stack-overflow"));

        assertThat(response.statusCode()).as(response.body()).isEqualTo(503);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("application/json"));
        assertThat(response.body()).doesNotContain("StackOverflowError").doesNotContain("\tat ");
        JsonNode error = Json.MAPPER.readTree(response.body()).path("error");
        assertThat(error.path("type").asText()).isEqualTo("server_error");
        assertThat(error.path("code").asText()).isEqualTo("server_error");
        assertThat(error.path("message").asText()).startsWith("internal error in Caravan")
                .endsWith("send the request again");
        // the process is stopped with the JVM's own out-of-memory status, after the answer was written
        await().atMost(Duration.ofSeconds(10)).until(() -> !statuses.isEmpty());
        assertThat(statuses).containsExactly(FatalErrors.EXIT_STATUS);
        assertThat(haltedAfterAnswer).containsExactly(true);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/v1/tasks", "/v1/chat/completions"})
    void anOrdinaryExceptionIsAnswered500AndTheProcessGoesOn(String door) throws Exception {
        List<Integer> statuses = new CopyOnWriteArrayList<>();
        caravan.app().fatalErrors().haltWith(statuses::add);

        HttpResponse<String> response = caravan.post(door, body(door, "bug"));

        assertThat(response.statusCode()).as(response.body()).isEqualTo(500);
        assertThat(Json.MAPPER.readTree(response.body()).path("error").path("type").asText()).isEqualTo("server_error");
        // and the next request is answered as usual, without a halt
        HttpResponse<String> next = caravan.post(door, body(door, ""));
        assertThat(next.statusCode()).as(next.body()).isEqualTo(200);
        assertThat(statuses).isEmpty();
    }
}
