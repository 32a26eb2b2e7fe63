package io.caravan.accounting;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.logging.Level;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;

/**
 * Debian's chromium, headless, driven by Selenium, for the live page's tests: no network of its own (no updates,
 * sync or background requests), its requests logged, a profile folder removed on close. A test using it is skipped
 * only where chromium is not installed ({@code .ci/run} installs it).
 */
final class HeadlessChromium implements AutoCloseable {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    final ChromeDriver browser;
    private final Path profile;

    static void assumeInstalled() {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)");
    }

    HeadlessChromium() throws IOException {
        profile = Files.createTempDirectory("caravan-chromium");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1100", "--user-data-dir=" + profile);
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.PERFORMANCE, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30));
    }

    /** The cells of the page's table row with this key (empty while it does not show). */
    @SuppressWarnings("unchecked")
    List<String> row(String key) {
        // read in one go inside the page: the tables are redrawn at every refresh
        Object cells = browser.executeScript("""
                const row = [...document.querySelectorAll('tr[data-row]')].find(r => r.dataset.row === arguments[0]);
                return row ? [...row.cells].map(c => c.textContent) : [];""", key);
        return (List<String>) cells;
    }

    /** A table's column headings, by the id of the element the page draws it into. */
    @SuppressWarnings("unchecked")
    List<String> headings(String tableId) {
        Object cells = browser.executeScript("""
                const el = document.getElementById(arguments[0]);
                return el ? [...el.querySelectorAll('th')].map(c => c.textContent) : [];""", tableId);
        return (List<String>) cells;
    }

    @Override
    public void close() throws IOException {
        browser.quit();
        io.caravan.support.TempFolders.delete(profile);
    }
}
