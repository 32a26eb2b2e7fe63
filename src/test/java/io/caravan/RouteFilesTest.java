package io.caravan;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The route files are named one by one in application.properties (a wildcard costs seconds of start-up scanning
 * the fat jar): a file added to routes/ and not to the list would silently never run.
 */
class RouteFilesTest {

    @Test
    void everyRouteFileIsLoadedByName() throws IOException {
        String pattern = Settings.load().get("camel.main.routes-include-pattern");
        List<String> listed = Arrays.stream(pattern.split(",")).map(String::trim).toList();
        List<String> files;
        try (Stream<Path> routes = Files.list(Path.of("routes"))) {
            files = routes.map(p -> "classpath:routes/" + p.getFileName()).filter(n -> n.endsWith(".yaml")).toList();
        }
        assertThat(listed).noneMatch(n -> n.contains("*")).containsExactlyInAnyOrderElementsOf(files);
    }
}
