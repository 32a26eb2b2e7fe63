package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.caravan.Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The compose stack cannot run here (no Docker engine), so its files are checked instead: the services exist,
 * Prometheus scrapes the path and port Caravan serves its metrics on, and Grafana's provisioned files are there
 * and only ask for metrics Caravan (or Camel) exports.
 */
class ComposeStackTest {

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    static final Set<String> CARAVAN_METRICS = Set.of("caravan_requests_total", "caravan_attempt_seconds_bucket",
            "caravan_attempt_seconds_count", "caravan_fallbacks_total", "caravan_tokens_total",
            "caravan_cost_usd_total", "caravan_circuit_state", "caravan_budget_remaining_usd");

    static JsonNode yaml(String file) throws Exception {
        return YAML.readTree(Path.of(file).toFile());
    }

    @Test
    void composeHasKafkaCaravanPrometheusAndGrafana() throws Exception {
        JsonNode services = yaml("docker-compose.yml").path("services");
        List<String> names = new ArrayList<>();
        services.fieldNames().forEachRemaining(names::add);
        assertThat(names).contains("kafka", "caravan", "prometheus", "grafana");
        assertThat(services.path("kafka").path("image").asText()).startsWith("apache/kafka:");
        assertThat(services.path("caravan").path("build").asText()).isEqualTo(".");
        assertThat(services.path("caravan").path("ports").get(0).asText()).isEqualTo("8080:8080");
        // every file a service mounts is in the repository
        for (String service : List.of("prometheus", "grafana")) {
            for (JsonNode volume : services.path(service).path("volumes")) {
                String host = volume.asText().split(":")[0];
                assertThat(Path.of(host)).as(service + " mounts " + host).exists();
            }
        }
        assertThat(services.path("prometheus").path("volumes").get(0).asText())
                .startsWith("./ops/prometheus.yml:/etc/prometheus/prometheus.yml");
    }

    @Test
    void prometheusScrapesTheMetricsEndpointOfCaravan() throws Exception {
        JsonNode job = yaml("ops/prometheus.yml").path("scrape_configs").get(0);
        String scrapePath = job.path("metrics_path").asText();
        String target = job.path("static_configs").get(0).path("targets").get(0).asText();

        String metricsUri = null;
        for (JsonNode route : yaml("routes/operations.yaml")) {
            String uri = route.path("route").path("from").path("uri").asText();
            if (route.path("route").path("id").asText().equals("ops-metrics")) {
                metricsUri = uri;
            }
        }
        assertThat(metricsUri).isEqualTo("platform-http:" + scrapePath);
        assertThat(scrapePath).isEqualTo("/metrics");
        String port = Settings.load().get("caravan.http.port");
        assertThat(target).isEqualTo("caravan:" + port);
        // the image binds all interfaces, or Prometheus could not reach it
        assertThat(Files.readString(Path.of("Dockerfile"))).contains("-Dcaravan.http.host=0.0.0.0");
    }

    @Test
    void grafanaIsProvisionedWithADashboardOnCaravansMetrics() throws Exception {
        JsonNode datasource = yaml("ops/grafana/provisioning/datasources/prometheus.yml").path("datasources").get(0);
        assertThat(datasource.path("type").asText()).isEqualTo("prometheus");
        assertThat(datasource.path("url").asText()).isEqualTo("http://prometheus:9090");
        JsonNode provider = yaml("ops/grafana/provisioning/dashboards/caravan.yml").path("providers").get(0);
        assertThat(provider.path("options").path("path").asText()).isEqualTo("/var/lib/grafana/dashboards");

        JsonNode dashboard = new ObjectMapper().readTree(Path.of("ops/grafana/dashboards/caravan.json").toFile());
        List<String> exprs = new ArrayList<>();
        dashboard.path("panels").forEach(p -> {
            assertThat(p.path("datasource").path("uid").asText()).isEqualTo(datasource.path("uid").asText());
            p.path("targets").forEach(t -> exprs.add(t.path("expr").asText()));
        });
        Set<String> used = new java.util.TreeSet<>();
        Matcher m = Pattern.compile("\\b(caravan_[a-z_]+|camel_[a-z_]+)").matcher(String.join(" ", exprs));
        while (m.find()) {
            used.add(m.group(1));
        }
        Set<String> caravanUsed = used.stream().filter(n -> n.startsWith("caravan_")).collect(Collectors.toSet());
        assertThat(CARAVAN_METRICS).containsAll(caravanUsed);
        // requests and fallbacks per provider, latency, spend by tier, breaker states
        assertThat(caravanUsed).contains("caravan_requests_total", "caravan_fallbacks_total",
                "caravan_attempt_seconds_bucket", "caravan_cost_usd_total", "caravan_circuit_state");
        assertThat(String.join(" ", exprs)).contains("sum by (tier)").contains("sum by (provider, outcome)");
    }
}
