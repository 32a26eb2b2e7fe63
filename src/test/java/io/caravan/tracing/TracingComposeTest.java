package io.caravan.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The compose file's optional tracing profile (no Docker engine here, so its files are checked): a collector and
 * Jaeger only with {@code --profile tracing}, Caravan's OTLP endpoint is the collector's HTTP receiver, and the
 * collector hands traces on to Jaeger's OTLP port.
 */
class TracingComposeTest {

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    @Test
    void theTracingProfileWiresCaravanToTheCollectorAndTheCollectorToJaeger() throws Exception {
        JsonNode services = YAML.readTree(Path.of("docker-compose.yml").toFile()).path("services");
        for (String name : new String[] {"otel-collector", "jaeger"}) {
            assertThat(services.path(name).path("profiles")).as(name).extracting(JsonNode::asText).containsExactly("tracing");
        }
        JsonNode caravan = services.path("caravan").path("environment");
        assertThat(caravan.path("CARAVAN_JAVA_OPTS").asText()).contains("-Dcaravan.otel.enabled=${CARAVAN_TRACING:-false}");
        assertThat(caravan.path("OTEL_EXPORTER_OTLP_ENDPOINT").asText()).contains("http://otel-collector:4318");
        assertThat(caravan.path("OTEL_EXPORTER_OTLP_PROTOCOL").asText()).contains("http/protobuf");

        String mount = services.path("otel-collector").path("volumes").get(0).asText();
        assertThat(mount).startsWith("./ops/otel-collector.yaml:");
        JsonNode config = YAML.readTree(Path.of("ops/otel-collector.yaml").toFile());
        assertThat(config.path("receivers").path("otlp").path("protocols").path("http").path("endpoint").asText())
                .endsWith(":4318");
        JsonNode traces = config.path("service").path("pipelines").path("traces");
        assertThat(traces.path("receivers")).extracting(JsonNode::asText).contains("otlp");
        String exporter = traces.path("exporters").get(0).asText();
        assertThat(config.path("exporters").path(exporter).path("endpoint").asText()).isEqualTo("jaeger:4317");
    }
}
