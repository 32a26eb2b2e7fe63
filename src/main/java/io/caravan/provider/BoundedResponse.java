package io.caravan.provider;

import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * A provider's response body read within its {@link ResponseLimits}: the bytes as they arrive (after the HTTP
 * client inflated them), counted before any parser buffers them. Past a bound the read fails with a
 * {@code response_too_large} {@link ProviderError}; the bytes before the offending one are still handed out, so
 * the events before it are not lost. For a Server-Sent Events body ({@link #sse}) one line and one event (the
 * lines up to a blank line) are bounded too; lines end at CR, LF or CRLF, as the SSE format has it.
 */
public final class BoundedResponse extends FilterInputStream {

    private final boolean sse;
    private final long maxTotal;
    private final long maxLine;
    private final long maxEvent;
    private final String what;
    private final Integer status;
    private long total;
    private long line;
    private long event;
    private boolean afterCr;
    private ProviderError failure;

    private BoundedResponse(InputStream in, boolean sse, long maxTotal, long maxLine, long maxEvent, String what,
            Integer status) {
        super(in);
        this.sse = sse;
        this.status = status;
        this.maxTotal = maxTotal;
        this.maxLine = maxLine;
        this.maxEvent = maxEvent;
        this.what = what;
    }

    /**
     * A whole answer: at most {@code maxResponseBytes}.
     *
     * @param what   names the answer in the error message, e.g. {@code the answer of provider openai}
     * @param status the answer's HTTP status, carried by the error (null when none)
     */
    public static BoundedResponse body(InputStream in, ResponseLimits limits, String what, Integer status) {
        return new BoundedResponse(in, false, limits.maxResponseBytes(), 0, 0, what, status);
    }

    /** An SSE answer: the whole, each line and each event within its bound. */
    public static BoundedResponse sse(InputStream in, ResponseLimits limits, String what, Integer status) {
        return new BoundedResponse(in, true, limits.maxResponseBytes(), limits.maxSseLineBytes(),
                limits.maxSseEventBytes(), what, status);
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (failure != null) {
            throw failure;
        }
        int n = in.read(b, off, len);
        if (n <= 0) {
            return n;
        }
        if (!sse) { // a plain body: only its size counts
            if (total + n <= maxTotal) {
                total += n;
                return n;
            }
            return fail((int) (maxTotal - total), "its size bound of " + maxTotal + " bytes");
        }
        for (int i = off; i < off + n; i++) {
            String passed = count(b[i]);
            if (passed != null) {
                return fail(i - off, passed);
            }
        }
        return n;
    }

    /** The first {@code within} bytes of this read are handed out; the next read (or this one, if none) fails. */
    private int fail(int within, String passed) {
        failure = new ProviderError(ErrorClass.RESPONSE_TOO_LARGE, status, what + " passed " + passed);
        total = maxTotal;
        if (within <= 0) {
            throw failure;
        }
        return within;
    }

    /** Counts one byte; the bound it passes, or null. */
    private String count(byte b) {
        if (++total > maxTotal) {
            return "its size bound of " + maxTotal + " bytes";
        }
        if (b == '\n' || b == '\r') {
            boolean crlf = b == '\n' && afterCr;
            afterCr = b == '\r';
            if (!crlf) {
                if (line == 0) {
                    event = 0; // a blank line ends the event
                }
                line = 0;
            }
            return null;
        }
        afterCr = false;
        if (++line > maxLine) {
            return "the SSE line bound of " + maxLine + " bytes";
        }
        if (++event > maxEvent) {
            return "the SSE event bound of " + maxEvent + " bytes";
        }
        return null;
    }

    @Override
    public long skip(long n) throws IOException {
        // skipped bytes are bytes all the same: read them through the counter
        byte[] buffer = new byte[(int) Math.min(8192, Math.max(0, n))];
        long skipped = 0;
        while (skipped < n) {
            int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
            if (r < 0) {
                break;
            }
            skipped += r;
        }
        return skipped;
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    @Override
    public synchronized void mark(int readlimit) {
        // not supported: a reset would count bytes twice
    }

    @Override
    public synchronized void reset() throws IOException {
        throw new IOException("mark/reset not supported");
    }
}
