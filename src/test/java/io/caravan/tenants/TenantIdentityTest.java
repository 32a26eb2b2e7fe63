package io.caravan.tenants;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.PermissionDeniedException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.caravan.cli.CheckCommand;
import io.caravan.intake.KafkaIntake;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Issue 16: who is calling. The bearer key names the tenant on HTTP (the real OpenAI client too), the record header
 * on Kafka; nobody spends as another tenant or as none; keys come and go with the catalog; keys are written
 * nowhere.
 */
class TenantIdentityTest {

    static WireMockServer upstream;
    static Caravan caravan;
    static ListAppender<ILoggingEvent> logs;
    static Logger root;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        logs = new ListAppender<>();
        logs.start();
        root.addAppender(logs);
        ((Logger) LoggerFactory.getLogger("io.caravan")).setLevel(Level.DEBUG);
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo("/oai/v1/chat/completions")).willReturn(Upstreams.ok("hello")));
        caravan = Caravan.start(TenantFixtures.catalog(upstream, "", ""),
                Map.of("ACME_ENV_KEY", TenantFixtures.ENV_KEY), Map.of("caravan.catalog.watch-interval", "100ms"));
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            caravan.close();
            upstream.stop();
        } finally {
            root.detachAppender(logs);
            ((Logger) LoggerFactory.getLogger("io.caravan")).setLevel(null);
        }
    }

    static HttpResponse<String> task(String key, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + caravan.httpPort + "/v1/tasks"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static OpenAIClient client(String key) {
        return OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + caravan.httpPort + "/v1").apiKey(key)
                .maxRetries(0).timeout(Duration.ofSeconds(30)).build();
    }

    @Test
    void theKeyNamesTheTenantAndABodyNamingAnotherIsRefused() throws Exception {
        int before = upstream.findAll(postRequestedFor(urlEqualTo("/oai/v1/chat/completions"))).size();
        HttpResponse<String> asOther = task(TenantFixtures.ACME_KEY,
                "{\"id\":\"as-globex\",\"prompt\":\"hi\",\"metadata\":{\"tenant\":\"globex\"}}");
        assertThat(asOther.statusCode()).isEqualTo(403);
        assertThat(Json.MAPPER.readTree(asOther.body()).path("error").path("type").asText()).isEqualTo("tenant_mismatch");
        assertThat(upstream.findAll(postRequestedFor(urlEqualTo("/oai/v1/chat/completions")))).hasSize(before);

        // no tenant in the body: the key's
        HttpResponse<String> own = task(TenantFixtures.ACME_KEY, "{\"id\":\"as-acme\",\"prompt\":\"hi\"}");
        assertThat(own.statusCode()).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(own.body()).path("metadata").path("tenant").asText()).isEqualTo("acme");
        // the key of an ${ENV} reference is acme's too
        HttpResponse<String> env = task(TenantFixtures.ENV_KEY,
                "{\"id\":\"as-acme-env\",\"prompt\":\"hi\",\"metadata\":{\"tenant\":\"acme\"}}");
        assertThat(env.statusCode()).isEqualTo(200);
        // and its usage event says so
        List<ConsumerRecord<String, byte[]>> usage = TestKafka.readKeys(caravan.usageTopic, List.of("as-acme"),
                Duration.ofSeconds(20));
        ConsumerRecord<String, byte[]> event = usage.stream().filter(r -> "as-acme".equals(r.key())).findFirst()
                .orElseThrow();
        assertThat(Json.MAPPER.readTree(event.value()).path("metadata").path("tenant").asText()).isEqualTo("acme");
    }

    @Test
    void withoutAValidKeyThereIsNoTenantAndNoCall() throws Exception {
        int before = upstream.findAll(postRequestedFor(urlEqualTo("/oai/v1/chat/completions"))).size();
        assertThat(task(null, "{\"prompt\":\"hi\",\"metadata\":{\"tenant\":\"acme\"}}").statusCode()).isEqualTo(401);
        assertThat(task("cvk-guessed", "{\"prompt\":\"hi\"}").statusCode()).isEqualTo(401);
        // the header that carries the key's tenant inside cannot be sent from outside
        assertThat(task(null, "{\"prompt\":\"hi\"}", "caravan-key-tenant", "acme").statusCode()).isEqualTo(401);
        HttpResponse<String> forged = task(TenantFixtures.GLOBEX_KEY, "{\"id\":\"forged\",\"prompt\":\"hi\"}",
                "caravan-key-tenant", "acme");
        assertThat(Json.MAPPER.readTree(forged.body()).path("metadata").path("tenant").asText()).isEqualTo("globex");
        assertThat(upstream.findAll(postRequestedFor(urlEqualTo("/oai/v1/chat/completions")))).hasSize(before + 1);
    }

    @Test
    void theOpenAiClientSpendsAsItsKeysTenantOnly() {
        ChatCompletion ok = client(TenantFixtures.GLOBEX_KEY).chat().completions().create(
                ChatCompletionCreateParams.builder().model("auto").addUserMessage("hi").maxTokens(5).build());
        assertThat(ok.choices().get(0).message().content()).contains("hello");
        assertThatThrownBy(() -> client(TenantFixtures.GLOBEX_KEY).chat().completions().create(
                ChatCompletionCreateParams.builder().model("auto").addUserMessage("hi")
                        .metadata(ChatCompletionCreateParams.Metadata.builder()
                                .putAdditionalProperty("tenant", com.openai.core.JsonValue.from("acme")).build())
                        .build()))
                .isInstanceOf(PermissionDeniedException.class).hasMessageContaining("of tenant 'globex'");
        assertThatThrownBy(() -> client("cvk-not-a-key").chat().completions().create(
                ChatCompletionCreateParams.builder().model("auto").addUserMessage("hi").build()))
                .isInstanceOf(UnauthorizedException.class);
    }

    @Test
    void aTierOrGroupOutsideAllowIsNotAllowed() throws Exception {
        HttpResponse<String> tier = task(TenantFixtures.ACME_KEY, "{\"tier\":\"premium\",\"prompt\":\"hi\"}");
        assertThat(tier.statusCode()).isEqualTo(403);
        assertThat(Json.MAPPER.readTree(tier.body()).path("error").path("type").asText()).isEqualTo("not_allowed");
        HttpResponse<String> group = task(TenantFixtures.ACME_KEY, "{\"model\":\"dear\",\"prompt\":\"hi\"}");
        assertThat(group.statusCode()).isEqualTo(403);
        // the group of an allowed tier may be named
        assertThat(task(TenantFixtures.ACME_KEY, "{\"model\":\"cheap\",\"prompt\":\"hi\"}").statusCode()).isEqualTo(200);
        // globex has no allow: list
        assertThat(task(TenantFixtures.GLOBEX_KEY, "{\"tier\":\"premium\",\"prompt\":\"hi\"}").statusCode())
                .isEqualTo(200);
    }

    @Test
    void aKafkaTaskIsOfItsHeadersTenantAndAnUnknownOneIsADeadLetter() throws Exception {
        TestKafka.send(caravan.tasksTopic, "k-acme", "{\"id\":\"k-acme\",\"prompt\":\"hi\"}".getBytes(),
                Map.of("caravan-tenant", "acme"));
        TestKafka.send(caravan.tasksTopic, "k-nobody", "{\"id\":\"k-nobody\",\"prompt\":\"hi\"}".getBytes(),
                Map.of("caravan-tenant", "nobody"));
        TestKafka.send(caravan.tasksTopic, "k-none", "{\"id\":\"k-none\",\"prompt\":\"hi\"}".getBytes(), Map.of());
        TestKafka.send(caravan.tasksTopic, "k-mismatch",
                "{\"id\":\"k-mismatch\",\"prompt\":\"hi\",\"metadata\":{\"tenant\":\"globex\"}}".getBytes(),
                Map.of("caravan-tenant", "acme"));
        Map<String, JsonNode> results = new java.util.HashMap<>();
        for (ConsumerRecord<String, byte[]> r : TestKafka.readKeys(caravan.resultsTopic,
                List.of("k-acme", "k-nobody", "k-none", "k-mismatch"), Duration.ofSeconds(30))) {
            results.put(r.key(), Json.MAPPER.readTree(r.value()));
        }
        assertThat(results.get("k-acme").path("status").asText()).isEqualTo("ok");
        assertThat(results.get("k-acme").path("metadata").path("tenant").asText()).isEqualTo("acme");
        assertThat(results.get("k-nobody").path("error").path("type").asText()).isEqualTo("unknown_tenant");
        assertThat(results.get("k-none").path("error").path("type").asText()).isEqualTo("unknown_tenant");
        assertThat(results.get("k-mismatch").path("error").path("type").asText()).isEqualTo("tenant_mismatch");
        List<ConsumerRecord<String, byte[]>> dead = TestKafka.readKeys(caravan.dlqTopic,
                List.of("k-nobody", "k-none", "k-mismatch"), Duration.ofSeconds(30));
        assertThat(dead).allSatisfy(r -> assertThat(new String(
                r.headers().lastHeader(KafkaIntake.ERROR_TYPE_HEADER).value(), StandardCharsets.UTF_8))
                .isIn("unknown_tenant", "tenant_mismatch"));
    }

    @Test
    void aKeyAddedToTheCatalogIsLetInAndARemovedOneIsRefusedAfterTheReload() throws Exception {
        String newKey = "cvk-added-at-runtime-0123456789abcdef";
        assertThat(task(newKey, "{\"prompt\":\"hi\"}").statusCode()).isEqualTo(401);
        Path file = Path.of(caravan.app().settings().get(io.caravan.Setting.CATALOG));
        String original = Files.readString(file);
        long reloads = caravan.app().catalogReloads();
        // globex's key is replaced by a new one (the ${ENV} key is gone too: the reload reads the process's env)
        Files.writeString(file, original.replace(io.caravan.cli.KeysCommand.hashLine(TenantFixtures.GLOBEX_KEY),
                io.caravan.cli.KeysCommand.hashLine(newKey)));
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> caravan.app().catalogReloads() > reloads);
            assertThat(task(newKey, "{\"prompt\":\"hi\"}").statusCode()).isEqualTo(200);
            assertThat(task(TenantFixtures.GLOBEX_KEY, "{\"prompt\":\"hi\"}").statusCode()).isEqualTo(401);
        } finally {
            long now = caravan.app().catalogReloads();
            Files.writeString(file, original);
            await().atMost(Duration.ofSeconds(10)).until(() -> caravan.app().catalogReloads() > now);
        }
    }

    @Test
    void keysAreNeverWrittenAnywhere() throws Exception {
        task(TenantFixtures.ACME_KEY, "{\"id\":\"leak-1\",\"prompt\":\"hi\"}");
        task(TenantFixtures.ACME_KEY, "{\"id\":\"leak-2\",\"prompt\":\"hi\",\"metadata\":{\"tenant\":\"globex\"}}");
        task(TenantFixtures.ACME_KEY + "x", "{\"prompt\":\"hi\"}");
        List<String> written = new ArrayList<>();
        written.add(caravan.get("/status").body());
        written.add(caravan.get("/metrics").body());
        // the usage events of these tasks (and everything else on the topic), and every Kafka result so far
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>(
                TestKafka.readKeys(caravan.usageTopic, List.of("leak-1"), Duration.ofSeconds(20)));
        records.addAll(TestKafka.read(caravan.resultsTopic, Integer.MAX_VALUE, Duration.ofSeconds(2)));
        assertThat(TestKafka.keys(records)).contains("leak-1");
        for (ConsumerRecord<String, byte[]> r : records) {
            written.add(new String(r.value(), StandardCharsets.UTF_8));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CheckCommand.run(Path.of(caravan.app().settings().get(io.caravan.Setting.CATALOG)),
                Map.of("ACME_ENV_KEY", TenantFixtures.ENV_KEY), new PrintStream(out), new PrintStream(out));
        written.add(out.toString(StandardCharsets.UTF_8));
        assertThat(written.get(written.size() - 1)).contains("acme").contains("globex");
        synchronized (logs.list) {
            logs.list.forEach(e -> written.add(e.getFormattedMessage()));
        }
        assertThat(caravan.get("/status").body()).contains("\"tenants\"");
        // requests are counted per tenant (the catalog has tenants)
        assertThat(caravan.get("/metrics").body()).containsPattern("caravan_requests_total\\{[^}]*tenant=\"acme\"");
        for (String text : written) {
            assertThat(text).doesNotContain(TenantFixtures.ACME_KEY, TenantFixtures.GLOBEX_KEY, TenantFixtures.ENV_KEY);
        }
    }
}
