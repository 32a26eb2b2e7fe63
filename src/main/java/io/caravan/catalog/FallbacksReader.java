package io.caravan.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Reads and validates a fallback block ({@code fallbacks}, {@code context_window_fallbacks},
 * {@code content_filter_fallbacks}): known groups, no cycle.
 */
final class FallbacksReader extends BlockReader {

    FallbacksReader(String file, Consumer<String> warnings) {
        super(file, warnings);
    }

    Map<String, List<String>> read(JsonNode root, String blockName,
            Map<String, List<DeploymentSpec>> groups) {
        JsonNode block = root.get(blockName);
        Map<String, List<String>> edges = new LinkedHashMap<>();
        if (absent(block)) {
            return edges;
        }
        requireMapping(block, blockName);
        block.fields().forEachRemaining(e -> {
            String from = e.getKey();
            if (!groups.containsKey(from)) {
                throw fail(blockName, "unknown group '" + from + "'");
            }
            String entry = blockName + "." + from;
            List<String> targets = new ArrayList<>();
            for (String to : strings(e.getValue(), entry)) {
                if (!groups.containsKey(to)) {
                    throw fail(entry, "unknown group '" + to + "'");
                }
                if (!targets.contains(to)) {
                    targets.add(to);
                }
            }
            edges.put(from, List.copyOf(targets));
        });
        List<String> cycle = findCycle(edges);
        if (cycle != null) {
            throw fail(blockName, "cycle " + String.join(" -> ", cycle));
        }
        return edges;
    }

    /** The first cycle in file order, as a path whose last element repeats the first, or null. */
    static List<String> findCycle(Map<String, List<String>> edges) {
        Set<String> done = new LinkedHashSet<>();
        for (String start : edges.keySet()) {
            List<String> cycle = dfs(start, edges, new ArrayList<>(), done);
            if (cycle != null) {
                return cycle;
            }
        }
        return null;
    }

    private static List<String> dfs(String node, Map<String, List<String>> edges, List<String> path,
            Set<String> done) {
        int at = path.indexOf(node);
        if (at >= 0) {
            List<String> cycle = new ArrayList<>(path.subList(at, path.size()));
            cycle.add(node);
            return cycle;
        }
        if (done.contains(node)) {
            return null;
        }
        path.add(node);
        for (String next : edges.getOrDefault(node, List.of())) {
            List<String> cycle = dfs(next, edges, path, done);
            if (cycle != null) {
                return cycle;
            }
        }
        path.remove(path.size() - 1);
        done.add(node);
        return null;
    }
}
