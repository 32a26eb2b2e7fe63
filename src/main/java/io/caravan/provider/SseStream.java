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
 * A provider's SSE response read through its adapter's {@link StreamTranslator}. A stream that ends before the
 * translator saw its end is a broken stream ({@code server_error}), never a short answer.
 */
public final class SseStream extends ProviderStream {

    private final InputStream body;
    private final SseReader reader;
    private final StreamTranslator translator;
    private final Runnable abort;
    private final Deque<StreamDelta> queue = new ArrayDeque<>();
    private final AtomicBoolean aborted = new AtomicBoolean();
    private final String api;
    private boolean ended;

    /**
     * @param abort drops the connection so that a blocked read fails (called at most once, from any thread)
     */
    public SseStream(String api, InputStream body, StreamTranslator translator, Runnable abort) {
        this.api = api;
        this.body = body;
        this.reader = new SseReader(body);
        this.translator = translator;
        this.abort = abort;
    }

    @Override
    protected StreamDelta read() throws IOException {
        while (queue.isEmpty()) {
            if (ended || translator.finished()) {
                ended = true;
                return null;
            }
            SseEvent event = reader.next();
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

    /** After a clean end the body is read to its end and closed, so the connection can be reused; else aborted. */
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
