package io.caravan.provider;

/** One Server-Sent Event: its {@code event:} name (null when absent) and its {@code data:} lines joined. */
public record SseEvent(String event, String data) {}
