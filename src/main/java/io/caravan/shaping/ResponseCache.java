package io.caravan.shaping;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.caravan.catalog.ShapingSpec;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.TokenUsage;
import io.caravan.task.Task;
import io.caravan.task.Outcome;
import io.caravan.task.TaskContext;
import io.caravan.task.TaskContext.Candidate;
import io.caravan.util.Json;
import io.caravan.util.Sha256;
import java.util.Iterator;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The response cache (catalog {@code cache:}, off when absent): Caffeine in process, exact match on the
 * normalised request (messages, params with keys sorted, the group the tier router resolved). Only deterministic
 * requests take part: {@code temperature} 0, or {@code "cache": "force"} in the task ({@code "off"} opts out).
 * Checked after the tier router and before dispatch ({@code routes/task.yaml}); a hit answers without a provider
 * call, as one attempt with outcome {@code cache_hit}, no tokens and cost 0.
 */
public final class ResponseCache {

    private static final Logger LOG = LoggerFactory.getLogger(ResponseCache.class);

    /** Exchange property: the cache key of a task that may fill the cache once answered. */
    static final String KEY = "caravanCacheKey";

    private record Entry(ProviderReply reply, Candidate by) {}

    private volatile ShapingSpec.Cache spec;
    private volatile Cache<String, Entry> cache;
    private final AtomicLong hits = new AtomicLong();

    /** Looks the task up; on a hit the task is answered (the dispatch step is then skipped). */
    public void lookup(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx, Exchange exchange) {
        ShapingSpec.Cache wanted = ctx.catalog().shaping().cache();
        if (wanted == null || ctx.group() == null || !cacheable(ctx.task())) {
            return;
        }
        Cache<String, Entry> entries = entries(wanted);
        String key = key(ctx);
        Entry hit = entries.getIfPresent(key);
        if (hit == null) {
            exchange.setProperty(KEY, key);
            return;
        }
        hits.incrementAndGet();
        Candidate by = new Candidate(hit.by().deployment(), hit.by().group(), null);
        ctx.record(by, Outcome.CACHE_HIT, null, 0, TokenUsage.NONE);
        ProviderReply reply = hit.reply();
        ctx.succeed(new ProviderReply(reply.message().deepCopy(), reply.finishReason(), reply.usage()), by);
        LOG.debug("cache hit task={} group={}", ctx.task().id(), ctx.group());
    }

    /** True when the task still needs a provider (no cache hit). */
    public boolean miss(TaskContext ctx) {
        return !ctx.done();
    }

    /** Keeps a successful answer of a cacheable task. */
    public void store(@ExchangeProperty(TaskContext.PROPERTY) TaskContext ctx,
            @ExchangeProperty(KEY) String key) {
        Cache<String, Entry> entries = cache;
        if (key == null || entries == null || ctx.reply() == null || ctx.error() != null
                || ctx.answeredBy() == null) {
            return;
        }
        entries.put(key, new Entry(ctx.reply(), ctx.answeredBy()));
    }

    public long hits() {
        return hits.get();
    }

    static boolean cacheable(Task task) {
        if (Task.CACHE_OFF.equals(task.cache())) {
            return false;
        }
        if (Task.CACHE_FORCE.equals(task.cache())) {
            return true;
        }
        JsonNode t = task.params().get("temperature");
        return t != null && t.isNumber() && t.doubleValue() == 0.0;
    }

    private Cache<String, Entry> entries(ShapingSpec.Cache wanted) {
        Cache<String, Entry> current = cache;
        if (current != null && wanted.equals(spec)) {
            return current;
        }
        synchronized (this) {
            if (cache == null || !wanted.equals(spec)) {
                cache = Caffeine.newBuilder().expireAfterWrite(wanted.ttl()).maximumSize(wanted.maxEntries()).build();
                spec = wanted;
            }
            return cache;
        }
    }

    /** SHA-256 of the group, the messages and the params, with object keys sorted. */
    static String key(TaskContext ctx) {
        ObjectNode request = Json.object();
        request.put("group", ctx.group());
        request.set("messages", canonical(ctx.task().messages()));
        request.set("params", canonical(ctx.task().params()));
        return Sha256.hex(request.toString());
    }

    private static JsonNode canonical(JsonNode node) {
        if (node == null) {
            return Json.object();
        }
        if (node.isObject()) {
            TreeMap<String, JsonNode> sorted = new TreeMap<>();
            for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
                String field = it.next();
                sorted.put(field, canonical(node.get(field)));
            }
            ObjectNode out = Json.object();
            sorted.forEach(out::set);
            return out;
        }
        if (node.isArray()) {
            ArrayNode out = Json.array();
            node.forEach(item -> out.add(canonical(item)));
            return out;
        }
        if (node.isNumber()) {
            return Json.MAPPER.getNodeFactory().numberNode(node.decimalValue().stripTrailingZeros());
        }
        if (node.isTextual()) {
            return Json.MAPPER.getNodeFactory().textNode(node.asText().strip());
        }
        return node;
    }
}
