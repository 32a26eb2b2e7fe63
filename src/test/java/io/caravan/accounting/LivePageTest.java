package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.caravan.support.Caravan;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;

/**
 * The live page at {@code GET /} in a real headless browser (Debian's chromium, driven by Selenium): after a
 * scripted run it shows that run's numbers, and the browser asks nothing of any host but this Caravan. Skipped
 * only where chromium is not installed ({@code .ci/run} installs it).
 */
class LivePageTest {

    static final String CATALOG = """
            providers:
              sick: {api: simulated, latency: 5ms, error_rate: 1, error_status: 503, retries: 0}
              well: {api: simulated, latency: 20ms, error_rate: 0}
            models:
              - {name: pair, provider: sick, model: sick-small, price: {input: 0.10, output: 0.10}}
              - {name: pair, provider: well, model: well-large, price: {input: 100, output: 100}}
              - {name: solo, provider: well, model: well-solo, price: {input: 100, output: 100}}
              - {name: lost, provider: sick, model: sick-one}
            groups:
              pair: {strategy: cost}
            tiers:
              fast: {model: solo}
            default_tier: fast
            budgets:
              tiers: {fast: 10}
              tenants: {acme: 5}
            """;

    static Caravan caravan;
    static HeadlessChromium chromium;
    static ChromeDriver browser;

    @BeforeAll
    static void start() throws Exception {
        HeadlessChromium.assumeInstalled();
        caravan = Caravan.start(CATALOG);
        // the scripted run: three fallbacks pair#0 -> pair#1, two plain answers for tenant acme, one failure
        for (int i = 0; i < 3; i++) {
            task("{\"id\":\"p" + i + "\",\"model\":\"pair\",\"prompt\":\"hello\"}", 200);
        }
        for (int i = 0; i < 2; i++) {
            task("{\"id\":\"s" + i + "\",\"model\":\"solo\",\"prompt\":\"hello\",\"metadata\":{\"tenant\":\"acme\"}}", 200);
        }
        task("{\"id\":\"l0\",\"model\":\"lost\",\"prompt\":\"hello\"}", 503);
        chromium = new HeadlessChromium();
        browser = chromium.browser;
    }

    static void task(String body, int status) throws Exception {
        var r = caravan.post("/v1/tasks", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    }

    @AfterAll
    static void stop() throws Exception {
        if (chromium != null) {
            chromium.close();
        }
        if (caravan != null) {
            caravan.close();
        }
    }

    static List<String> row(String key) {
        return chromium.row(key);
    }

    static String requestUrl(String performanceEntry) {
        try {
            return io.caravan.util.Json.MAPPER.readTree(performanceEntry).path("message").path("params")
                    .path("request").path("url").asText();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void thePageIsServedAtTheRootOnlyAndMayTalkToItsOwnOriginOnly() throws Exception {
        var page = caravan.get("/");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/html"));
        assertThat(page.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(csp ->
                assertThat(csp).contains("default-src 'none'").contains("connect-src 'self'"));
        assertThat(page.body()).doesNotContain("<script src").doesNotContain("<link").doesNotContain("@import");
        assertThat(caravan.get("/no-such-page").statusCode()).isEqualTo(404);
    }

    @Test
    void thePageShowsTheScriptedRunsNumbersAndTalksToCaravanOnly() throws Exception {
        String origin = "http://127.0.0.1:" + caravan.httpPort;
        browser.get(origin + "/?every=1");

        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            assertThat(row("outcome:ok")).element(2).isEqualTo("5");
            assertThat(row("outcome:exhausted")).element(2).isEqualTo("1");
            assertThat(row("fallback:pair#0>pair#1")).containsExactly("pair#0", "\u2192", "pair#1", "3");
            assertThat(row("latency:well")).element(1).isEqualTo("5");
            assertThat(row("latency:sick")).element(1).isEqualTo("4");
            assertThat(row("deployment:pair#1")).element(2).isEqualTo("closed");
            assertThat(row("deployment:pair#1")).element(3).isEqualTo("3");
            assertThat(browser.findElement(By.id("tile-tasks")).getText()).isEqualTo("6");
            assertThat(browser.findElement(By.id("tile-fallback")).getText()).isEqualTo("50.0 %");
        });
        // month-to-date spend comes from the usage topic, read back by the ledger
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            assertThat(row("spend:tier:fast")).element(2).isEqualTo("10.00");
            assertThat(Double.parseDouble(row("spend:tier:fast").get(1))).isPositive();
            assertThat(row("spend:tenant:acme")).element(2).isEqualTo("5.00");
            assertThat(Double.parseDouble(row("spend:tenant:acme").get(1))).isPositive();
        });

        // tasks while the page watches show as a rate
        for (int i = 0; i < 4; i++) {
            task("{\"id\":\"r" + i + "\",\"model\":\"solo\",\"prompt\":\"hello\"}", 200);
        }
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100))
                .until(() -> !row("outcome:ok").isEmpty() && Double.parseDouble(row("outcome:ok").get(1)) > 0);
        assertThat(browser.findElement(By.id("state")).getText()).startsWith("updated");

        Path shot = Path.of("target", "live-page.png");
        Files.write(shot, browser.getScreenshotAs(OutputType.BYTES));

        List<String> urls = browser.manage().logs().get(LogType.PERFORMANCE).getAll().stream()
                .map(LogEntry::getMessage)
                .filter(m -> m.contains("\"Network.requestWillBeSent\""))
                .map(LivePageTest::requestUrl)
                // what goes over the network; chrome://, data: and the like are the browser's own
                .filter(u -> u.matches("(?i)^(https?|wss?|ftp)://.*"))
                .toList();
        assertThat(urls).contains(origin + "/?every=1", origin + "/status", origin + "/metrics");
        assertThat(urls).allSatisfy(u -> assertThat(u).startsWith(origin + "/"));
    }
}
