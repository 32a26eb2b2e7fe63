package io.caravan.provider;

import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A provider's streamed answer: its {@link FrameReader} cuts the body into events (SSE or AWS event-stream), its
 * adapter's {@link StreamTranslator} turns them into deltas. A stream that ends before the translator saw its end
 * is a broken stream ({@code server_error}), never a short answer.
 */
public final class FramedStream extends ProviderStream {

    private final String api;
    private final InputStream body;
    private final FrameReader frames;
    private final StreamTranslator translator;
    private final Runnable abort;
    private final Deque<StreamDelta> queue = new ArrayDeque<>();
    private final AtomicBoolean aborted = new AtomicBoolean();
    private boolean ended;

    /**
     * @param frames reads {@code body}
     * @param abort drops the connection so that a blocked read fails (called at most once, from any thread)
     */
    public FramedStream(String api, InputStream body, FrameReader frames, StreamTranslator translator,
            Runnable abort) {
        this.api = api;
        this.body = body;
        this.frames = frames;
        this.translator = translator;
        this.abort = abort;
    }

    /** An SSE ({@code text/event-stream}) answer. */
    public static FramedStream sse(String api, InputStream body, StreamTranslator translator, Runnable abort) {
        return new FramedStream(api, body, new SseReader(body), translator, abort);
    }

    @Override
    protected StreamDelta read() throws IOException {
        while (queue.isEmpty()) {
            if (ended || translator.finished()) {
                ended = true;
                return null;
            }
            SseEvent event = frames.next();
            if (event == null) {
                if (translator.completeAtEnd()) {
                    ended = true;
                    return null;
                }
                throw new ProviderError(ErrorClass.SERVER_ERROR, 200,
                        api + " stream ended without its terminal event (truncated answer)");
            }
            List<StreamDelta> out = new ArrayList<>(2);
            translator.onEvent(event, out);
            queue.addAll(out);
        }
        return queue.poll();
    }

    @Override
    public TokenUsage usage() {
        return translator.usage();
    }

    @Override
    public void abort() {
        if (aborted.compareAndSet(false, true)) {
            abort.run();
        }
    }

    /** After a clean end the body is closed, so the connection can be reused; else aborted. */
    @Override
    public void close() {
        if (ended && !aborted.get()) {
            try {
                body.close();
                return;
            } catch (IOException | RuntimeException e) {
                // fall through to abort
            }
        }
        abort();
    }
}
