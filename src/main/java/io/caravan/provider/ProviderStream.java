package io.caravan.provider;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * A provider's answer arriving as a stream, already translated to OpenAI deltas by the provider's adapter.
 * {@link #next()} blocks for the next delta and answers null at the stream's terminal event; a stream that
 * breaks (reset, read timeout, an end without its terminal event, an error event) throws: an
 * {@link IOException} or a classified {@link io.caravan.resilience.ProviderError}. Read by one thread;
 * {@link #abort()} may come from any thread and makes a pending read fail at once.
 */
public abstract class ProviderStream implements AutoCloseable {

    private final Deque<StreamDelta> pending = new ArrayDeque<>();

    /** The next delta from the provider, or null at the terminal event. */
    protected abstract StreamDelta read() throws IOException;

    /** The usage seen so far (complete once {@link #next()} answered null). */
    public abstract TokenUsage usage();

    /** Drops the upstream connection; a read in progress fails. Safe from any thread, more than once. */
    public abstract void abort();

    public final StreamDelta next() throws IOException {
        return pending.isEmpty() ? read() : pending.poll();
    }

    /** The next delta without taking it (the first event is read inside the deployment attempt). */
    public final StreamDelta peek() throws IOException {
        if (pending.isEmpty()) {
            StreamDelta d = read();
            if (d == null) {
                return null;
            }
            pending.add(d);
        }
        return pending.peek();
    }

    /** Releases the upstream connection; after a clean end this lets it go back to the pool. */
    @Override
    public void close() {
        abort();
    }
}
