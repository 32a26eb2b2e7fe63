package io.caravan.tenants;

import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.accounting.SpendLedger;
import io.caravan.accounting.TenantAdmission;
import io.caravan.catalog.Catalog;
import io.caravan.catalog.CatalogLoader;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.resilience.TenantRateLimits;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import io.caravan.support.Upstreams;
import io.caravan.task.Task;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskParser;
import io.caravan.util.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.camel.Exchange;
import org.apache.camel.builder.AdviceWith;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.model.BeanDefinition;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 16: a tenant's budget and rate hold before each provider call, under concurrency, across a restart and
 * across two instances. Every call costs 5 USD (5 output tokens at 1 USD each) and asks for at most 5.
 */
class TenantAdmissionTest {

    static final String PATH = "/oai/v1/chat/completions";
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final String TASK = "{\"prompt\":\"hi\",\"params\":{\"max_tokens\":5}}";

    WireMockServer upstream;
    final List<Caravan> caravans = new ArrayList<>();

    @BeforeEach
    void startUpstream() {
        upstream = Upstreams.start();
        upstream.stubFor(post(urlEqualTo(PATH)).willReturn(Upstreams.ok("hello").withFixedDelay(400)));
    }

    @AfterEach
    void stop() throws Exception {
        for (Caravan c : caravans) {
            c.close();
        }
        upstream.stop();
    }

    Caravan start(String prefix, String acmeExtra, String globexExtra, Map<String, String> settings) throws Exception {
        Caravan c = Caravan.start(TenantFixtures.catalog(upstream, acmeExtra, globexExtra), Map.of(), settings, prefix);
        caravans.add(c);
        return c;
    }

    static HttpResponse<String> task(Caravan caravan, String key) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + caravan.httpPort + "/v1/tasks"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(TASK)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Sends {@code n} tasks at once to each Caravan; returns the statuses. */
    static List<Integer> flood(int n, String key, Caravan... to) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n * to.length);
        try {
            List<Future<HttpResponse<String>>> sent = new ArrayList<>();
            for (Caravan c : to) {
                for (int i = 0; i < n; i++) {
                    sent.add(pool.submit(() -> task(c, key)));
                }
            }
            List<Integer> statuses = new ArrayList<>();
            for (Future<HttpResponse<String>> f : sent) {
                statuses.add(f.get().statusCode());
            }
            return statuses;
        } finally {
            pool.shutdownNow();
        }
    }

    int calls() {
        return upstream.findAll(postRequestedFor(urlEqualTo(PATH))).size();
    }

    @Test
    void twentyConcurrentRequestsAgainstABudgetOfFiveCallsMakeAtMostSixAndTheBudgetHoldsAfterARestart()
            throws Exception {
        String prefix = Caravan.newPrefix();
        Caravan first = start(prefix, "budget: 25", "", Map.of());
        List<Integer> statuses = flood(20, TenantFixtures.ACME_KEY, first);
        assertThat(calls()).isBetween(5, 6);
        assertThat(statuses.stream().filter(s -> s == 200).count()).isEqualTo(calls());
        assertThat(statuses.stream().filter(s -> s == 402).count()).isEqualTo(20 - calls());
        // the spend is in the usage topic: a restarted instance reads it back and refuses
        await().atMost(Duration.ofSeconds(20)).until(() -> first.app().operations().ledger().tenantSpend("acme") >= 25);
        // caravan report --by tenant reads the same events and agrees with the ledger
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        int status = io.caravan.cli.ReportCommand.run(new ArrayList<>(List.of("--by", "tenant", "--format", "csv")),
                io.caravan.Settings.load().with("kafka.bootstrap-servers", TestKafka.bootstrapServers())
                        .with("caravan.topics.usage", first.usageTopic),
                new java.io.PrintStream(out), new java.io.PrintStream(new java.io.ByteArrayOutputStream()));
        assertThat(status).isZero();
        String acmeLine = out.toString().lines().filter(l -> l.startsWith("acme,")).findFirst().orElseThrow();
        assertThat(acmeLine).endsWith("," + String.format(java.util.Locale.ROOT, "%.6f",
                first.app().operations().ledger().tenantSpend("acme")));
        first.close();
        caravans.remove(first);
        Caravan again = start(prefix, "budget: 25", "", Map.of());
        HttpResponse<String> refused = task(again, TenantFixtures.ACME_KEY);
        assertThat(refused.statusCode()).isEqualTo(402);
        assertThat(Json.MAPPER.readTree(refused.body()).path("error").path("type").asText()).isEqualTo("budget_exceeded");
        // another tenant is not held back by acme's budget
        assertThat(task(again, TenantFixtures.GLOBEX_KEY).statusCode()).isEqualTo(200);
    }

    /** A bug between a paid call and the settling of its reservation, for tasks whose id starts "broke-". */
    public static final class Breakage {
        public void beforeSettle(Exchange exchange) {
            if (TaskContext.of(exchange).task().id().startsWith("broke-")) {
                throw new IllegalStateException("simulated bug");
            }
        }
    }

    @Test
    void kafkaTasksWhoseRouteBrokeGiveTheirReservationBackSoTheTenantsNextTasksAreAnswered() throws Exception {
        Caravan c = start(Caravan.newPrefix(), "budget: 25", "", Map.of());
        // the dispatch route breaks just before its last step, tenantAdmission.dispatched
        AdviceWith.adviceWith(c.app().camelContext(), "dispatch", route -> route
                .weaveByType(BeanDefinition.class).selectLast().before().bean(new Breakage(), "beforeSettle"));
        List<String> broken = List.of("broke-1", "broke-2", "broke-3");
        for (String id : broken) {
            TestKafka.send(c.tasksTopic, id, ("{\"id\":\"" + id + "\",\"prompt\":\"hi\",\"params\":{\"max_tokens\":5}}")
                    .getBytes(StandardCharsets.UTF_8), Map.of("caravan-tenant", "acme"));
        }
        var results = TestKafka.readKeys(c.resultsTopic, broken, Duration.ofSeconds(30));
        assertThat(results).hasSize(3);
        for (var result : results) {
            assertThat(Json.MAPPER.readTree(result.value()).path("error").path("type").asText()).isEqualTo("server_error");
        }
        // three calls paid (15 of 25 USD): read back from the usage topic, nothing left reserved for them
        await().atMost(Duration.ofSeconds(20)).until(() -> c.app().operations().ledger().tenantSpend("acme") >= 15);
        JsonNode acme = Json.MAPPER.readTree(c.get("/status").body()).path("tenants").path("acme");
        assertThat(acme.path("reserved_usd").asDouble()).as("reserved by tasks that broke").isZero();
        // the two calls the budget still has room for are made, and not a third
        assertThat(task(c, TenantFixtures.ACME_KEY).statusCode()).isEqualTo(200);
        assertThat(task(c, TenantFixtures.ACME_KEY).statusCode()).isEqualTo(200);
        // (asked once the ledger has read them: while it reads one a call may slip through, the overshoot of one
        // call the test above allows)
        await().atMost(Duration.ofSeconds(20)).until(() -> c.app().operations().ledger().tenantSpend("acme") >= 25);
        assertThat(task(c, TenantFixtures.ACME_KEY).statusCode()).isEqualTo(402);
        assertThat(calls()).isEqualTo(5);
    }

    @Test
    void twoInstancesOvershootABudgetByAtMostOneCallEach() throws Exception {
        String prefix = Caravan.newPrefix();
        Caravan a = start(prefix, "budget: 25", "", Map.of());
        Caravan b = start(prefix, "budget: 25", "", Map.of());
        await().atMost(Duration.ofSeconds(20)).until(() -> a.app().fleet().liveInstances() == 2
                && b.app().fleet().liveInstances() == 2);
        flood(10, TenantFixtures.ACME_KEY, a, b);
        assertThat(calls()).isBetween(5, 7);
        // and once both have read the fleet's spend, neither calls again
        await().atMost(Duration.ofSeconds(20)).until(() -> a.app().operations().ledger().tenantSpend("acme") >= 25
                && b.app().operations().ledger().tenantSpend("acme") >= 25);
        int before = calls();
        assertThat(task(a, TenantFixtures.ACME_KEY).statusCode()).isEqualTo(402);
        assertThat(task(b, TenantFixtures.ACME_KEY).statusCode()).isEqualTo(402);
        assertThat(calls()).isEqualTo(before);
    }

    @Test
    void aTenantsRpmHoldsAcrossTwoInstancesAndARestartAndAnswers429WithRetryAfter() throws Exception {
        String prefix = Caravan.newPrefix();
        Map<String, String> window = Map.of("caravan.limits.window", "30s");
        Caravan a = start(prefix, "", "rpm: 2", window);
        Caravan b = start(prefix, "", "rpm: 2", window);
        await().atMost(Duration.ofSeconds(20)).until(() -> a.app().fleet().liveInstances() == 2
                && b.app().fleet().liveInstances() == 2);
        // windows are aligned on the clock: start early in one, so that no refill falls inside the test
        await().atMost(Duration.ofSeconds(35)).pollInterval(Duration.ofMillis(50))
                .until(() -> System.currentTimeMillis() % 30_000 < 3_000);
        List<HttpResponse<String>> answers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            answers.add(task(a, TenantFixtures.GLOBEX_KEY));
            answers.add(task(b, TenantFixtures.GLOBEX_KEY));
        }
        assertThat(answers.stream().filter(r -> r.statusCode() == 200).count()).isEqualTo(2);
        HttpResponse<String> limited = answers.stream().filter(r -> r.statusCode() == 429).findFirst().orElseThrow();
        assertThat(Long.parseLong(limited.headers().firstValue("Retry-After").orElseThrow())).isBetween(1L, 30L);
        JsonNode error = Json.MAPPER.readTree(limited.body()).path("error");
        assertThat(error.path("type").asText()).isEqualTo("rate_limited");
        assertThat(calls()).isEqualTo(2);
        // a restarted instance reads this window's calls back from the usage topic
        a.close();
        caravans.remove(a);
        Caravan again = start(prefix, "", "rpm: 2", window);
        // called at once, before it is ready: the rate check waits, like the budget's, until the usage topic is
        // read back, so it knows the window's calls
        assertThat(System.currentTimeMillis() % 30_000).as("still in the same window").isLessThan(25_000);
        assertThat(task(again, TenantFixtures.GLOBEX_KEY).statusCode()).isEqualTo(429);
        assertThat(calls()).isEqualTo(2);
        // acme has no rpm of its own
        assertThat(task(again, TenantFixtures.ACME_KEY).statusCode()).isEqualTo(200);
    }

    @Test
    void aRestartedInstancesRateCheckWaitsUntilTheWindowsCallsAreReadBack() throws Exception {
        // two calls of globex (rpm 2, a window of a day here) made by an instance that is gone
        String usage = Caravan.newPrefix() + ".usage";
        for (int i = 0; i < 2; i++) {
            TestKafka.send(usage, "t-" + i, ("{\"task_id\":\"t-" + i + "\",\"attempt\":1,\"ts\":\""
                    + Instant.now() + "\",\"tier\":\"fast\",\"model\":\"cheap\",\"deployment\":\"fast#0\","
                    + "\"provider\":\"oai\",\"provider_model\":\"gpt-cheap\",\"outcome\":\"ok\",\"status\":200,"
                    + "\"latency_ms\":100,\"input_tokens\":1,\"cached_input_tokens\":0,\"output_tokens\":5,"
                    + "\"cost_usd\":5.0,\"fallback\":false,\"instance\":\"gone\",\"metadata\":{\"tenant\":\"globex\"}}")
                    .getBytes(StandardCharsets.UTF_8), Map.of());
        }
        Path file = Files.createTempFile("tenants", ".yaml");
        Files.writeString(file, TenantFixtures.catalog(upstream, "", "rpm: 2"));
        Catalog catalog = CatalogLoader.load(file, Map.of());
        Files.delete(file);
        // the restarted instance's parts, its ledger not started yet (as while it reads the topic back)
        SpendLedger ledger = new SpendLedger(TestKafka.bootstrapServers(), usage);
        TenantRateLimits rates = new TenantRateLimits(Duration.ofDays(1), null);
        rates.tenants(catalog.tenants());
        TenantAdmission admission = new TenantAdmission(ledger, rates, "restarted", () -> 1, 5, Duration.ofSeconds(30));
        ledger.follow(admission::apply);
        Task parsed = new TaskParser(1 << 20).fromJson(Json.object().put("prompt", "hi")
                .set("metadata", Json.object().put("tenant", "globex")), "t-after");
        TaskContext ctx = new TaskContext(parsed, TaskContext.Source.HTTP, catalog, 30_000);
        DeploymentSpec cheap = catalog.deployments().get(0);
        ctx.plan(List.of(new TaskContext.Candidate(cheap, "cheap", null)));
        ctx.advance();
        Exchange exchange = new DefaultExchange(new DefaultCamelContext());
        exchange.setProperty(TaskContext.PROPERTY, ctx);
        CompletableFuture<Void> call = new CompletableFuture<>();
        java.util.concurrent.ExecutorService reader = java.util.concurrent.Executors.newSingleThreadExecutor();
        Thread caller = new Thread(() -> {
            try {
                admission.beforeCall(exchange);
                call.complete(null);
            } catch (Throwable e) {
                call.completeExceptionally(e);
            }
        }, "caller");
        try {
            caller.start();
            // it either passes at once (the rate unchecked against the window's calls) or waits for the rebuild
            await().atMost(Duration.ofSeconds(5)).until(() -> call.isDone() || Arrays.stream(caller.getStackTrace())
                    .anyMatch(f -> f.getMethodName().equals("awaitRebuilt")));
            assertThat(call.isDone()).as("the call waits for the rebuild instead of passing the rate").isFalse();
            ledger.start(reader);
            call.get(30, TimeUnit.SECONDS);
            assertThat(ctx.error()).as("used " + rates.requestsUsed(catalog.tenant("globex"))).isNotNull();
            assertThat(ctx.error().type().wireName()).isEqualTo("rate_limited");
        } finally {
            caller.interrupt();
            ledger.close();
            reader.shutdownNow();
        }
    }
}
