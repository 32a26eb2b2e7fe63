package io.caravan.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** What a task may carry: the contract's params (plus the catalog's passthrough) and small, shallow metadata. */
class TaskBoundsTest {

    static final TaskParser PARSER = new TaskParser(1_048_576, TaskParser.MetadataLimits.DEFAULT, Set::of);

    static Task parse(TaskParser parser, String json) {
        return parser.parse(json.getBytes(StandardCharsets.UTF_8), null);
    }

    static String task(String extra) {
        return "{\"id\":\"b-1\",\"prompt\":\"hi\"," + extra + "}";
    }

    @ParameterizedTest
    @ValueSource(strings = {"n", "service_tier", "store", "logit_bias", "logprobs", "user", "stream", "stream_options",
            "metadata", "prediction", "modalities"})
    void aParamOffTheListIsNotATask(String name) {
        assertThatThrownBy(() -> parse(PARSER, task("\"params\":{\"max_tokens\":8,\"" + name + "\":1}")))
                .isInstanceOf(InvalidTaskException.class)
                .hasMessageStartingWith("params." + name + " is not accepted")
                .hasMessageContaining("max_tokens")
                .satisfies(e -> assertThat(((InvalidTaskException) e).taskId()).isEqualTo("b-1"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            max_tokens            | 64
            max_completion_tokens | 64
            temperature           | 0.2
            top_p                 | 0.9
            stop                  | ["\\n"]
            response_format       | {"type":"json_object"}
            tools                 | [{"type":"function","function":{"name":"f"}}]
            tool_choice           | "auto"
            parallel_tool_calls   | false
            seed                  | 7
            presence_penalty      | 0.5
            frequency_penalty     | 0.5
            top_k                 | 40
            reasoning_effort      | "low"
            """)
    void aContractParamIsKept(String name, String value) {
        Task t = parse(PARSER, task("\"params\":{\"" + name + "\":" + value + "}"));
        assertThat(t.params().has(name)).isTrue();
        assertThat(TaskParser.PARAMS).contains(name);
    }

    @Test
    void theCatalogsPassthroughListOptsParamsIn() {
        TaskParser parser = new TaskParser(1_048_576, TaskParser.MetadataLimits.DEFAULT, () -> Set.of("service_tier"));
        assertThat(parse(parser, task("\"params\":{\"service_tier\":\"flex\"}")).params().get("service_tier").asText())
                .isEqualTo("flex");
        assertThatThrownBy(() -> parse(parser, task("\"params\":{\"store\":true}")))
                .hasMessageContaining("params.store is not accepted")
                .hasMessageContaining("routing.params_passthrough [service_tier]");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            [service_tier, store]   | ok
            service_tier            | ok
            [stream]                | 'stream' is set by Caravan, not passed through
            [model]                 | 'model' is set by Caravan, not passed through
            ["bad name"]            | 'bad name' is not a parameter name
            {service_tier: true}    | must be a list
            """)
    void theCatalogValidatesItsPassthroughList(String list, String outcome, @org.junit.jupiter.api.io.TempDir
            java.nio.file.Path dir) throws Exception {
        java.nio.file.Path file = dir.resolve("catalog.yaml");
        java.nio.file.Files.writeString(file, """
                providers:
                  p: {api: simulated}
                models:
                  - {name: a, provider: p, model: m}
                routing:
                  params_passthrough: %s
                """.formatted(list));
        if (outcome.equals("ok")) {
            assertThat(io.caravan.catalog.CatalogLoader.load(file).routing().paramsPassthrough()).contains("service_tier");
        } else {
            assertThatThrownBy(() -> io.caravan.catalog.CatalogLoader.load(file))
                    .isInstanceOf(io.caravan.catalog.CatalogException.class)
                    .hasMessageContaining("routing.params_passthrough")
                    .hasMessageContaining(outcome);
        }
    }

    @Test
    void metadataIsBoundedInSize() {
        TaskParser parser = new TaskParser(1_048_576, new TaskParser.MetadataLimits(1024, 8, 128), Set::of);
        parse(parser, task("\"metadata\":{\"note\":\"" + "x".repeat(900) + "\"}"));
        assertThatThrownBy(() -> parse(parser, task("\"metadata\":{\"note\":\"" + "x".repeat(1100) + "\"}")))
                .isInstanceOf(InvalidTaskException.class)
                .hasMessageContaining("metadata is 1111 bytes as JSON, over the limit of 1024")
                .hasMessageContaining("caravan.task.max-metadata-bytes");
    }

    @Test
    void metadataIsBoundedInDepth() {
        // eight levels (the metadata object itself is the first) are fine, nine are not
        String eight = "{\"a\":".repeat(8) + "1" + "}".repeat(8);
        parse(PARSER, task("\"metadata\":" + eight));
        String nine = "{\"a\":" + eight + "}";
        assertThatThrownBy(() -> parse(PARSER, task("\"metadata\":" + nine)))
                .isInstanceOf(InvalidTaskException.class)
                .hasMessage("metadata is nested deeper than 8 levels");
    }

    @Test
    void aTenantNameIsBoundedInLength() {
        parse(PARSER, task("\"metadata\":{\"tenant\":\"" + "t".repeat(128) + "\"}"));
        assertThatThrownBy(() -> parse(PARSER, task("\"metadata\":{\"tenant\":\"" + "t".repeat(129) + "\"}")))
                .isInstanceOf(InvalidTaskException.class)
                .hasMessage("metadata.tenant is 129 characters, over the limit of 128");
        assertThatThrownBy(() -> parse(PARSER, task("\"metadata\":{\"tenant\":{\"name\":\"acme\"}}")))
                .hasMessage("metadata.tenant must be a string");
    }

    @Test
    void depthLooksNoDeeperThanItNeeds() {
        assertThat(TaskParser.depth(io.caravan.util.Json.object(), 9)).isEqualTo(1);
        assertThat(TaskParser.depth(new com.fasterxml.jackson.databind.node.TextNode("x"), 9)).isZero();
    }
}
