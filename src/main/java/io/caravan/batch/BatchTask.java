package io.caravan.batch;

import java.time.Instant;
import java.util.Map;

/**
 * One task waiting in a batch, as much as is needed to answer it later on any instance: its id, deadline, routing,
 * and the original record (key, headers, bytes) from which its result, dead letter and online rescue are made.
 * Kept as bytes, not as a parsed tree: many thousands wait at once.
 */
public record BatchTask(String id, Instant deadline, String recordKey, Map<String, byte[]> headers, byte[] bytes,
        String tier, String group, String routingReason) {

    /** Bytes this task takes in a batch record (and, about, in memory). */
    public long size() {
        long headerBytes = 0;
        for (Map.Entry<String, byte[]> e : headers.entrySet()) {
            headerBytes += e.getKey().length() + e.getValue().length * 4L / 3 + 8;
        }
        return bytes.length + headerBytes + id.length() + (routingReason == null ? 0 : routingReason.length()) + 96;
    }
}
