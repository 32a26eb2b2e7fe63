package io.caravan.accounting;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.caravan.Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The compose stack cannot run here (no Docker engine), so its files are checked instead: the services exist,
 * Prometheus scrapes the path and port Caravan serves its metrics on, Grafana's provisioned files are there
 * and only ask for metrics Caravan (or Camel) exports; Kafka serves the stack and the host, keeps its data on a
 * named volume, both have health checks, ports are on loopback, the catalog and its keys come from the host. When
 * Debian's {@code docker-compose} (v1) is installed, it parses the file too.
 */
class ComposeStackTest {

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    static final Set<String> CARAVAN_METRICS = Set.of("caravan_requests_total", "caravan_attempt_seconds_bucket",
            "caravan_attempt_seconds_count", "caravan_fallbacks_total", "caravan_tokens_total",
            "caravan_cost_usd_total", "caravan_circuit_state", "caravan_budget_remaining_usd");

    static JsonNode yaml(String file) throws Exception {
        return YAML.readTree(Path.of(file).toFile());
    }

    static JsonNode services() throws Exception {
        return yaml("docker-compose.yml").path("services");
    }

    /** The text as compose reads it with no variable set: {@code ${NAME:-default}} is its default. */
    static String withDefaults(String text) {
        return text.replaceAll("\\$\\{[A-Z0-9_]+:-([^}]*)}", "$1").replaceAll("\\$\\{[A-Z0-9_]+}", "");
    }

    static String env(JsonNode service, String name) {
        return withDefaults(service.path("environment").path(name).asText());
    }

    /** listener name -> host:port of a Kafka listeners setting ({@code NAME://host:port,...}). */
    static Map<String, String> listeners(String setting) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String l : setting.split(",")) {
            String[] parts = l.trim().split("://", 2);
            out.put(parts[0], parts[1]);
        }
        return out;
    }

    static String port(String hostPort) {
        return hostPort.substring(hostPort.lastIndexOf(':') + 1);
    }

    @Test
    void composeHasKafkaCaravanPrometheusAndGrafana() throws Exception {
        JsonNode services = yaml("docker-compose.yml").path("services");
        List<String> names = new ArrayList<>();
        services.fieldNames().forEachRemaining(names::add);
        assertThat(names).contains("kafka", "caravan", "prometheus", "grafana");
        assertThat(services.path("kafka").path("image").asText()).startsWith("apache/kafka:");
        assertThat(services.path("caravan").path("build").asText()).isEqualTo(".");
        assertThat(withDefaults(services.path("caravan").path("ports").get(0).asText())).isEqualTo("127.0.0.1:8080:8080");
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

    @Test
    void everyPortIsPublishedOnLoopbackByDefault() throws Exception {
        services().fields().forEachRemaining(service -> service.getValue().path("ports").forEach(p ->
                assertThat(withDefaults(p.asText())).as(service.getKey() + " publishes " + p.asText())
                        .startsWith("127.0.0.1:")));
    }

    @Test
    void kafkaServesTheContainersOfTheStackAndClientsOnTheHost() throws Exception {
        JsonNode kafka = services().path("kafka");
        Map<String, String> bound = listeners(env(kafka, "KAFKA_LISTENERS"));
        Map<String, String> advertised = listeners(env(kafka, "KAFKA_ADVERTISED_LISTENERS"));
        String controller = env(kafka, "KAFKA_CONTROLLER_LISTENER_NAMES");
        assertThat(advertised).doesNotContainKey(controller);
        List<String> published = new ArrayList<>();
        kafka.path("ports").forEach(p -> published.add(withDefaults(p.asText())));

        // inside the network: advertised under the service's name, and that is where Caravan connects
        String inside = advertised.values().stream().filter(a -> a.startsWith("kafka:")).findFirst().orElseThrow();
        assertThat(env(services().path("caravan"), "CARAVAN_JAVA_OPTS"))
                .contains("-Dkafka.bootstrap-servers=" + inside);
        // on the host: advertised on loopback at a published port that leads to that listener's own port
        String hostListener = advertised.entrySet().stream().filter(e -> e.getValue().startsWith("127.0.0.1:"))
                .map(Map.Entry::getKey).findFirst().orElseThrow();
        String hostPort = port(advertised.get(hostListener));
        assertThat(published).contains("127.0.0.1:" + hostPort + ":" + port(bound.get(hostListener)));
        assertThat(env(kafka, "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP")).contains(hostListener + ":PLAINTEXT");
    }

    @Test
    void kafkaKeepsItsDataOnANamedVolume() throws Exception {
        JsonNode compose = yaml("docker-compose.yml");
        JsonNode kafka = compose.path("services").path("kafka");
        String dataDir = env(kafka, "KAFKA_LOG_DIRS");
        assertThat(dataDir).isNotBlank().doesNotStartWith("/tmp");
        String mount = null;
        for (JsonNode v : kafka.path("volumes")) {
            if (v.asText().endsWith(":" + dataDir)) {
                mount = v.asText().split(":")[0];
            }
        }
        assertThat(mount).as("a volume on " + dataDir).isNotNull();
        assertThat(compose.path("volumes").has(mount)).as(mount + " is a named volume").isTrue();
    }

    @Test
    void caravanStartsOnceKafkaIsHealthyAndReportsItsOwnReadiness() throws Exception {
        JsonNode services = services();
        assertThat(services.path("kafka").path("healthcheck").path("test").toString()).contains("kafka:");
        JsonNode caravan = services.path("caravan");
        assertThat(caravan.path("depends_on").path("kafka").path("condition").asText()).isEqualTo("service_healthy");
        String check = caravan.path("healthcheck").path("test").toString();
        assertThat(check).contains("/health/ready").contains("/" + Settings.load().get("caravan.http.port") + " ");
    }

    @Test
    void theCatalogAndEveryKeyItNamesComeFromTheHost() throws Exception {
        JsonNode caravan = services().path("caravan");
        Matcher setting = Pattern.compile("-Dcaravan\\.catalog=(\\S+)").matcher(env(caravan, "CARAVAN_JAVA_OPTS"));
        assertThat(setting.find()).isTrue();
        String catalogInContainer = setting.group(1);
        String hostFile = null;
        for (JsonNode v : caravan.path("volumes")) {
            String[] parts = withDefaults(v.asText()).split(":");
            if (catalogInContainer.startsWith(parts[1] + "/")) {
                hostFile = parts[0] + catalogInContainer.substring(parts[1].length());
            }
        }
        // a folder mount, so an editor's save-by-rename reaches the container and live reload sees it
        assertThat(hostFile).as("a folder mount holding " + catalogInContainer).isNotNull();
        assertThat(Path.of(hostFile)).exists();
        assertThat(Files.isSameFile(Path.of(hostFile), Path.of("catalog.yaml"))).isTrue();

        Matcher variables = Pattern.compile("\\$\\{([A-Za-z0-9_]+)").matcher(Files.readString(Path.of("catalog.yaml")));
        Set<String> named = new java.util.TreeSet<>();
        while (variables.find()) {
            named.add(variables.group(1));
        }
        assertThat(named).isNotEmpty();
        List<String> passed = new ArrayList<>();
        caravan.path("environment").fieldNames().forEachRemaining(passed::add);
        assertThat(passed).containsAll(named);
    }

    @Test
    void composeItselfAcceptsTheFile() throws Exception {
        Path tool = null;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "docker-compose"))) {
                tool = Path.of(dir, "docker-compose");
            }
        }
        Assumptions.assumeTrue(tool != null, "docker-compose is not installed (apt-get install docker-compose)");
        Process p = new ProcessBuilder(tool.toString(), "-f", "docker-compose.yml", "config", "-q")
                .redirectErrorStream(true).start();
        boolean ended = p.waitFor(60, TimeUnit.SECONDS);
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (!ended) {
            p.destroyForcibly();
        }
        assertThat(ended).isTrue();
        assertThat(p.exitValue()).as(out).isEqualTo(0);
    }
}
