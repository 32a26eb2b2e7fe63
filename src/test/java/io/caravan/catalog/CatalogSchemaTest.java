package io.caravan.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.caravan.provider.ProviderAdapters;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * docs/catalog.schema.json, which editors use to complete and check a catalog, accepts every catalog Caravan ships
 * (catalog.yaml, examples/, the whole catalogs in docs/) and refuses a bad one; it knows every api and block the
 * loader knows.
 */
class CatalogSchemaTest {

    private static final YAMLMapper YAML = new YAMLMapper();
    private static final Pattern YAML_BLOCK = Pattern.compile("```yaml\\n(.*?)```", Pattern.DOTALL);
    private static final Schema SCHEMA = schema();

    private static Schema schema() {
        try {
            return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
                    .getSchema(Files.readString(Path.of("docs/catalog.schema.json")));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every shipped catalog: the file name, and for a docs page the block's place in it. */
    static Stream<String[]> shippedCatalogs() throws IOException {
        List<String[]> catalogs = new ArrayList<>();
        catalogs.add(new String[] {"catalog.yaml", Files.readString(Path.of("catalog.yaml"))});
        try (Stream<Path> examples = Files.list(Path.of("examples"))) {
            for (Path p : examples.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                catalogs.add(new String[] {p.toString(), Files.readString(p)});
            }
        }
        try (Stream<Path> docs = Files.walk(Path.of("docs"))) {
            for (Path page : docs.filter(p -> p.toString().endsWith(".md")).sorted().toList()) {
                Matcher block = YAML_BLOCK.matcher(Files.readString(page, StandardCharsets.UTF_8));
                for (int i = 1; block.find(); i++) {
                    // a whole catalog, not a snippet of one block
                    if (block.group(1).matches("(?s)(.*\\n)?providers:.*\\nmodels:.*")) {
                        catalogs.add(new String[] {page + " yaml block " + i, block.group(1)});
                    }
                }
            }
        }
        return catalogs.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shippedCatalogs")
    void everyShippedCatalogMeetsTheSchema(String name, String yaml) throws IOException {
        assertThat(problems(yaml)).as(name).isEmpty();
    }

    @Test
    void theShippedCatalogsIncludeTheExamplesAndSomeFromTheDocs() throws IOException {
        List<String> names = shippedCatalogs().map(c -> c[0]).toList();
        assertThat(names).contains("catalog.yaml", Path.of("examples", "azure-openai.yaml").toString());
        assertThat(names).anyMatch(n -> n.startsWith("docs"));
    }

    @Test
    void aBadCatalogIsRefusedWhereItIsWrong() throws IOException {
        List<String> problems = problems("""
                providers:
                  acme:
                    api: openia
                    timeout: 10 seconds
                models:
                  - name: fast
                    provider: acme
                    price: {input: 1, output: 2, outptu: 3}
                  - name: auto
                    provider: acme
                    model: m
                tiers:
                  fast: {model: fast, max_score: 11}
                tenants:
                  team-a:
                    api_keys: [sk-plain-key]
                """);
        assertThat(problems).contains("/providers/acme/api: enum", "/providers/acme/timeout: oneOf",
                "/models/0: required model", "/models/0/price: additionalProperties outptu", "/models/1/name: not",
                "/tiers/fast: oneOf", "/tenants/team-a/api_keys/0: pattern");
    }

    @Test
    void theSchemaNamesEveryApiAndEveryTopLevelBlockTheLoaderReads() throws IOException {
        JsonNode schema = YAML.readTree(Path.of("docs/catalog.schema.json").toFile());
        Set<String> apis = new TreeSet<>();
        schema.at("/$defs/provider/properties/api/enum").forEach(api -> apis.add(api.asText()));
        assertThat(apis).isEqualTo(ProviderAdapters.apis());
        Set<String> blocks = new TreeSet<>();
        schema.get("properties").fieldNames().forEachRemaining(blocks::add);
        Set<String> loaded = new TreeSet<>(CatalogLoader.TOP_LEVEL);
        loaded.addAll(CatalogLoader.FUTURE_BLOCKS);
        assertThat(blocks).isEqualTo(loaded);
    }

    /** Each problem as where and which rule: the validator's messages are not the point here. */
    private static List<String> problems(String yaml) throws IOException {
        return SCHEMA.validate(YAML.readTree(yaml)).stream()
                .map(e -> e.getInstanceLocation() + ": " + e.getKeyword()
                        + (e.getProperty() == null ? "" : " " + e.getProperty()))
                .toList();
    }
}
