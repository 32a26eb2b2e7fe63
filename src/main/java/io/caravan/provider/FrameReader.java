package io.caravan.provider;

import java.io.IOException;

/** Cuts a provider's streamed body into events: one decoder per wire framing (SSE text, AWS event-stream binary). */
public interface FrameReader {

    /** The next event, or null at a clean end between events; a broken or over-long frame throws. */
    SseEvent next() throws IOException;
}
