package io.caravan.util;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * The non-blank lines of one or more streams read one after the other (a JSONL results file and its error file),
 * each line at most {@code maxLineBytes}: a longer one is handed on cut to that size (its reader then fails on it
 * like on any malformed row) and the rest of it skipped, so one row never holds more memory than the bound.
 * Streams are opened only when reached and closed once read.
 */
public final class BoundedLines implements Iterator<byte[]>, AutoCloseable {

    /** Opens a stream when its turn comes. */
    public interface Source {
        InputStream open() throws IOException;
    }

    private final Deque<Source> sources;
    private final int maxLineBytes;
    private InputStream current;
    private byte[] next;

    public BoundedLines(int maxLineBytes, Source... sources) {
        this.maxLineBytes = maxLineBytes;
        this.sources = new ArrayDeque<>(java.util.List.of(sources));
    }

    @Override
    public boolean hasNext() {
        if (next == null) {
            next = read();
        }
        return next != null;
    }

    @Override
    public byte[] next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        byte[] line = next;
        next = null;
        return line;
    }

    private byte[] read() {
        try {
            while (true) {
                if (current == null) {
                    Source source = sources.poll();
                    if (source == null) {
                        return null;
                    }
                    InputStream opened = source.open();
                    current = opened == null ? null : new java.io.BufferedInputStream(opened, 64 * 1024);
                    if (current == null) {
                        continue;
                    }
                }
                ByteArrayOutputStream line = new ByteArrayOutputStream();
                int b;
                boolean any = false;
                while ((b = current.read()) != -1) {
                    any = true;
                    if (b == '\n') {
                        break;
                    }
                    if (line.size() < maxLineBytes) {
                        line.write(b);
                    }
                }
                if (!any) {
                    current.close();
                    current = null;
                    continue;
                }
                byte[] bytes = line.toByteArray();
                if (!new String(bytes, java.nio.charset.StandardCharsets.UTF_8).isBlank()) {
                    return bytes;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        if (current != null) {
            try {
                current.close();
            } catch (IOException ignored) {
                // the download is abandoned anyway
            }
        }
    }
}
