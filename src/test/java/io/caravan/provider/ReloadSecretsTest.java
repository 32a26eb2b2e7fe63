package io.caravan.provider;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.support.Caravan;
import io.caravan.util.Json;
import io.caravan.util.Redaction;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Redaction follows the live catalog: a key that arrives with a reload is redacted from the provider's text as
 * soon as it is used, and {@code /admin/reload}'s answer about a rejected catalog quotes no credential of its
 * {@code base_url}.
 */
class ReloadSecretsTest {

    static final String ADMIN = "admin-" + UUID.randomUUID();
    static KeyEchoUpstream upstream;
    static Caravan caravan;

    static String catalog(String baseUrl, String key) {
        return """
                providers:
                  echo:
                    api: openai
                    base_url: %s
                    api_keys: ["%s"]
                    retries: 0
                models:
                  - {name: echo, provider: echo, model: m, price: {input: 1, output: 1}}
                """.formatted(baseUrl, key);
    }

    static String echoUrl() {
        return "http://127.0.0.1:" + upstream.port() + "/echo/v1";
    }

    @BeforeAll
    static void start() throws Exception {
        upstream = new KeyEchoUpstream();
        caravan = Caravan.start(catalog(echoUrl(), "first." + UUID.randomUUID()), Map.of(),
                Map.of("caravan.admin.api-key", ADMIN, "caravan.catalog.watch-interval", "0ms"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (caravan != null) {
            caravan.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @Test
    void aKeyBroughtByAReloadIsRedactedAndABadBaseUrlIsAnsweredMasked() throws Exception {
        // no shape at all: only the reloaded catalog knows it is a key
        String second = "second.plain.words." + UUID.randomUUID().toString().substring(0, 8);
        write(catalog(echoUrl(), second));
        HttpResponse<String> reloaded = adminReload();
        assertThat(reloaded.statusCode()).as(reloaded.body()).isEqualTo(200);

        JsonNode result = Json.MAPPER.readTree(
                caravan.post("/v1/tasks", "{\"model\":\"echo\",\"prompt\":\"hi\"}").body());
        assertThat(upstream.echoes(second)).as(result.toString()).isEqualTo(1);
        assertThat(result.path("error").path("message").asText())
                .contains("Request rejected for key " + Redaction.MASK);
        assertThat(result.toString()).doesNotContain(second);

        write(catalog("ftp://caravan:userinfo-SECRET@gateway.example/v1?api-key=query-SECRET", second));
        HttpResponse<String> rejected = adminReload();
        assertThat(rejected.statusCode()).isEqualTo(422);
        assertThat(rejected.body()).contains("ftp://caravan:***@gateway.example/v1?api-key=***")
                .doesNotContain("SECRET");
        assertThat(caravan.app().reloader().lastError()).doesNotContain("SECRET");
    }

    static void write(String yaml) throws Exception {
        Path file = Path.of(caravan.app().settings().get("caravan.catalog"));
        Files.writeString(file, yaml);
    }

    static HttpResponse<String> adminReload() throws Exception {
        HttpRequest request = HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + caravan.httpPort + "/admin/reload"))
                .timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer " + ADMIN)
                .POST(HttpRequest.BodyPublishers.noBody()).build();
        return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
    }
}
