package io.caravan.task;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.util.Json;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/** Turns bytes into a {@link Task} or says, in one sentence, why they are not one (contract section 3). */
public final class TaskParser {

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
    private static final Set<String> ROLES = Set.of("system", "user", "assistant", "tool", "developer");

    /**
     * The one list of {@code params} a task may carry (contract section 3, plus what the adapters map and the chat
     * endpoint takes from OpenAI's request); anything else is refused unless the catalog opts it in
     * ({@code routing.params_passthrough}). A parameter that changes what is billed ({@code n}, {@code service_tier})
     * or what the provider keeps ({@code store}) must never ride through unnoticed.
     */
    public static final Set<String> PARAMS = Set.of("max_tokens", "max_completion_tokens", "temperature", "top_p",
            "stop", "response_format", "tools", "tool_choice", "parallel_tool_calls", "seed", "presence_penalty",
            "frequency_penalty", "top_k", "reasoning_effort");

    /** How large a task's {@code metadata} may be: serialized bytes, nesting depth and tenant name length. */
    public record MetadataLimits(int maxBytes, int maxDepth, int maxTenantChars) {
        public static final MetadataLimits DEFAULT = new MetadataLimits(
                io.caravan.Setting.TASK_MAX_METADATA_BYTES.read(null), io.caravan.Setting.TASK_MAX_METADATA_DEPTH.read(null),
                io.caravan.Setting.TENANT_MAX_CHARS.read(null));
    }

    private final int maxBytes;
    private final MetadataLimits metadataLimits;
    private final Supplier<Set<String>> passthrough;

    public TaskParser(int maxBytes) {
        this(maxBytes, MetadataLimits.DEFAULT, Set::of);
    }

    /** @param passthrough the catalog's extra params passed on verbatim (read per task: a reload changes it) */
    public TaskParser(int maxBytes, MetadataLimits metadataLimits, Supplier<Set<String>> passthrough) {
        this.maxBytes = maxBytes;
        this.metadataLimits = metadataLimits;
        this.passthrough = passthrough;
    }

    public MetadataLimits metadataLimits() {
        return metadataLimits;
    }

    /**
     * @param recordKey the Kafka record key, used as the id when the task has none (may be null)
     */
    public Task parse(byte[] bytes, String recordKey) {
        String fallbackId = validId(recordKey) ? recordKey : null;
        if (bytes == null || bytes.length == 0) {
            throw new InvalidTaskException("empty record: a task is a JSON object", fallbackId);
        }
        if (bytes.length > maxBytes) {
            throw new InvalidTaskException(
                    "task is " + bytes.length + " bytes, over the limit of " + maxBytes, fallbackId, true);
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new InvalidTaskException("not JSON: " + e.getOriginalMessage(), fallbackId);
        } catch (IOException e) {
            throw new InvalidTaskException("unreadable task: " + e.getMessage(), fallbackId);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidTaskException("a task is a JSON object", fallbackId);
        }
        return fromJson((ObjectNode) root, fallbackId);
    }

    public Task fromJson(ObjectNode root, String fallbackId) {
        String id = fallbackId;
        JsonNode idNode = root.get("id");
        if (idNode != null && !idNode.isNull()) {
            if (!idNode.isTextual() || !validId(idNode.asText())) {
                throw new InvalidTaskException(
                        "id must be 1 to 128 characters of [A-Za-z0-9._:-]", fallbackId);
            }
            id = idNode.asText();
        }
        ArrayNode messages = messages(root, id);
        String model = optionalText(root, "model", id);
        String tier = optionalText(root, "tier", id);
        ObjectNode params = optionalObject(root, "params", id);
        checkParams(params, id);
        ObjectNode metadata = optionalObject(root, "metadata", id);
        checkMetadata(metadata, id);
        Map<String, Double> scores = scores(root, id);
        Long timeoutMs = null;
        JsonNode timeout = root.get("timeout_ms");
        if (timeout != null && !timeout.isNull()) {
            if (!timeout.canConvertToLong() || timeout.asLong() <= 0) {
                throw new InvalidTaskException("timeout_ms must be a positive number", id);
            }
            timeoutMs = timeout.asLong();
        }
        String cache = optionalText(root, "cache", id);
        if (cache != null && !cache.equals(Task.CACHE_FORCE) && !cache.equals(Task.CACHE_OFF)) {
            throw new InvalidTaskException("cache must be \"force\" or \"off\"", id);
        }
        return new Task(
                id != null ? id : UUID.randomUUID().toString(),
                messages,
                model == null || model.isBlank() ? Task.AUTO : model,
                tier == null || tier.isBlank() ? null : tier,
                params,
                metadata,
                scores,
                timeoutMs,
                cache,
                Deadlines.of(root, id));
    }

    private void checkParams(ObjectNode params, String id) {
        Set<String> extra = null;
        for (var names = params.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (PARAMS.contains(name)) {
                continue;
            }
            if (extra == null) {
                extra = passthrough.get();
            }
            if (!extra.contains(name)) {
                throw new InvalidTaskException("params." + shorten(name) + " is not accepted: params may be "
                        + new java.util.TreeSet<>(PARAMS) + (extra.isEmpty() ? ""
                        : " or the catalog's routing.params_passthrough " + new java.util.TreeSet<>(extra)), id);
            }
        }
    }

    /** Metadata travels into every result and usage event: it stays small, shallow and its tenant short. */
    private void checkMetadata(ObjectNode metadata, String id) {
        if (metadata.isEmpty()) {
            return;
        }
        JsonNode tenant = metadata.get("tenant");
        if (tenant != null && !tenant.isNull()) {
            if (tenant.isContainerNode()) {
                throw new InvalidTaskException("metadata.tenant must be a string", id);
            }
            int chars = tenant.asText().length();
            if (chars > metadataLimits.maxTenantChars()) {
                throw new InvalidTaskException("metadata.tenant is " + chars + " characters, over the limit of "
                        + metadataLimits.maxTenantChars(), id);
            }
        }
        if (depth(metadata, metadataLimits.maxDepth() + 1) > metadataLimits.maxDepth()) {
            throw new InvalidTaskException(
                    "metadata is nested deeper than " + metadataLimits.maxDepth() + " levels", id);
        }
        int size = Json.bytes(metadata).length;
        if (size > metadataLimits.maxBytes()) {
            throw new InvalidTaskException("metadata is " + size + " bytes as JSON, over the limit of "
                    + metadataLimits.maxBytes() + " (caravan.task.max-metadata-bytes)", id);
        }
    }

    /** The nesting depth of a node (an object or array counts one level), looked at no deeper than {@code stop}. */
    static int depth(JsonNode node, int stop) {
        if (!node.isContainerNode() || stop <= 0) {
            return 0;
        }
        int deepest = 0;
        for (JsonNode child : node) {
            deepest = Math.max(deepest, depth(child, stop - 1));
            if (deepest >= stop - 1) {
                break;
            }
        }
        return 1 + deepest;
    }

    /** A caller's name, quoted back at most 64 characters long. */
    private static String shorten(String name) {
        return name.length() <= 64 ? name : name.substring(0, 64) + "...";
    }

    private static ArrayNode messages(ObjectNode root, String id) {
        JsonNode messages = root.get("messages");
        JsonNode prompt = root.get("prompt");
        if (messages != null && !messages.isNull()) {
            if (!messages.isArray() || messages.isEmpty()) {
                throw new InvalidTaskException("messages must be a non-empty array", id);
            }
            for (int i = 0; i < messages.size(); i++) {
                JsonNode m = messages.get(i);
                if (!m.isObject() || !m.hasNonNull("role") || !ROLES.contains(m.get("role").asText())) {
                    throw new InvalidTaskException("messages[" + i + "] needs a role of " + ROLES, id);
                }
                boolean hasContent = m.hasNonNull("content") || m.hasNonNull("tool_calls");
                if (!hasContent) {
                    throw new InvalidTaskException("messages[" + i + "] has no content", id);
                }
            }
            return (ArrayNode) messages;
        }
        if (prompt != null && prompt.isTextual() && !prompt.asText().isBlank()) {
            ArrayNode single = Json.array();
            single.addObject().put("role", "user").put("content", prompt.asText());
            return single;
        }
        throw new InvalidTaskException("a task needs messages or prompt", id);
    }

    private static String optionalText(ObjectNode root, String field, String id) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isTextual()) {
            throw new InvalidTaskException(field + " must be a string", id);
        }
        return node.asText();
    }

    private static ObjectNode optionalObject(ObjectNode root, String field, String id) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            return Json.object();
        }
        if (!node.isObject()) {
            throw new InvalidTaskException(field + " must be an object", id);
        }
        return (ObjectNode) node;
    }

    private static Map<String, Double> scores(ObjectNode root, String id) {
        JsonNode node = root.get("scores");
        if (node == null || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw new InvalidTaskException("scores must be an object of numbers", id);
        }
        Map<String, Double> scores = new LinkedHashMap<>();
        node.properties().forEach(e -> {
            if (!e.getValue().isNumber()) {
                throw new InvalidTaskException("scores." + e.getKey() + " must be a number", id);
            }
            scores.put(e.getKey(), e.getValue().asDouble());
        });
        return scores;
    }

    private static boolean validId(String id) {
        return id != null && ID.matcher(id).matches();
    }
}
