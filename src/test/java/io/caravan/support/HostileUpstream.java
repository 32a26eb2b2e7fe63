package io.caravan.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;

/**
 * A bare HTTP/1.1 server on 127.0.0.1 playing OpenAI-compatible providers that misbehave in ways WireMock cannot
 * (answers without end, a gzip bomb, a drip); the first path segment picks the behaviour ({@code /big/v1/...}):
 * <ul>
 * <li>{@code ok}, {@code okstream}: a good answer, plain or streamed;
 * <li>{@code big}: {@code huge} bytes with a Content-Length; {@code chunked}: the same without one;
 * <li>{@code bomb}: {@code Content-Encoding: gzip}, a few KiB that inflate to {@code huge} bytes;
 * <li>{@code sseline}: a stream whose first line never ends; {@code sseevent}: one whose first event never ends
 *     (lines, no blank line); {@code lateline}: a first delta, then a line that never ends;
 * <li>{@code silent}: no answer at all; {@code drip}: one byte of its answer every 500 ms; {@code ping}: a stream of keep-alive comments, never an
 *     event.
 * </ul>
 * Every answer is bounded in what it sends ({@code huge} bytes, or ten minutes).
 */
public final class HostileUpstream implements AutoCloseable {

    /** What the endless answers of the tests send at most: far over the bounds the tests set. */
    public static final int HUGE = 8 << 20;

    private final int huge;
    private final byte[] bomb;
    private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    /** The behaviours whose connection the other end dropped while they were still sending. */
    public final Set<String> closedByCaravan = ConcurrentHashMap.newKeySet();
    private final ServerSocket server;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();

    public HostileUpstream() throws IOException {
        this(HUGE);
    }

    /** @param huge what each endless answer sends at most, and what the gzip bomb inflates to */
    public HostileUpstream(int huge) throws IOException {
        this.huge = huge;
        this.bomb = gzip(huge);
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "hostile-upstream");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** The size of the gzip bomb on the wire. */
    public int bombBytes() {
        return bomb.length;
    }

    /** How many requests this behaviour was sent. */
    public int calls(String behaviour) {
        AtomicInteger n = calls.get(behaviour);
        return n == null ? 0 : n.get();
    }

    private void acceptLoop() {
        while (!closed.get()) {
            try {
                Socket socket = server.accept();
                open.add(socket);
                Thread t = new Thread(() -> serve(socket), "hostile-upstream-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket socket) {
        String behaviour = "?";
        try (socket) {
            behaviour = readRequestPath(socket.getInputStream()).split("/")[1];
            calls.computeIfAbsent(behaviour, k -> new AtomicInteger()).incrementAndGet();
            OutputStream out = socket.getOutputStream();
            switch (behaviour) {
                case "ok" -> plain(out, completion("rescued").getBytes(StandardCharsets.UTF_8));
                case "okstream" -> {
                    streamHead(out);
                    chunk(out, delta("{\"role\":\"assistant\",\"content\":\"res\"}", null)
                            + delta("{\"content\":\"cued\"}", null) + delta("{}", "\"stop\"") + "data: [DONE]\n\n");
                    end(out);
                }
                case "big" -> {
                    out.write(head("application/json", "Content-Length: " + huge));
                    fill(out, huge, (byte) ' ', false);
                }
                case "chunked" -> {
                    out.write(head("application/json", "Transfer-Encoding: chunked"));
                    fill(out, huge, (byte) ' ', true);
                    end(out);
                }
                case "bomb" -> {
                    out.write(head("application/json", "Content-Encoding: gzip\r\nContent-Length: " + bomb.length));
                    out.write(bomb);
                }
                case "sseline" -> {
                    streamHead(out);
                    chunk(out, "data: ");
                    fill(out, huge, (byte) 'a', true);
                    end(out);
                }
                case "sseevent" -> {
                    streamHead(out);
                    byte[] line = "data: x\n".getBytes(StandardCharsets.US_ASCII);
                    byte[] lines = new byte[64 * 1024];
                    for (int i = 0; i < lines.length; i++) {
                        lines[i] = line[i % line.length];
                    }
                    for (int sent = 0; sent < huge; sent += lines.length) {
                        chunk(out, lines);
                    }
                    end(out);
                }
                case "lateline" -> {
                    streamHead(out);
                    chunk(out, delta("{\"role\":\"assistant\",\"content\":\"half an ans\"}", null) + "data: ");
                    fill(out, huge, (byte) 'a', true);
                    end(out);
                }
                case "silent" -> { // reads the request, never answers, waits for the other end to leave
                    socket.setSoTimeout(600_000);
                    if (socket.getInputStream().read() < 0) {
                        throw new IOException("closed by the other end");
                    }
                }
                case "drip" -> {
                    out.write(head("application/json", "Content-Length: 100000"));
                    for (int i = 0; i < 1200; i++) { // ten minutes at most
                        out.write(' ');
                        out.flush();
                        Thread.sleep(500);
                    }
                }
                case "ping" -> {
                    streamHead(out);
                    for (int i = 0; i < 2000; i++) { // ten minutes at most
                        chunk(out, ": keep-alive\n\n");
                        Thread.sleep(300);
                    }
                    end(out);
                }
                default -> out.write(head("text/plain", "Content-Length: 0"));
            }
            out.flush();
        } catch (IOException e) {
            if (!closed.get()) {
                closedByCaravan.add(behaviour);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            open.remove(socket);
        }
    }

    private static String completion(String content) {
        return "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
                + "\"message\":{\"role\":\"assistant\",\"content\":\"" + content + "\"},\"finish_reason\":\"stop\"}],"
                + "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15}}";
    }

    private static String delta(String delta, String finish) {
        return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
                + "\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":" + finish + "}]}\n\n";
    }

    private static byte[] head(String contentType, String framing) {
        return ("HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\n" + framing + "\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    private static void plain(OutputStream out, byte[] body) throws IOException {
        out.write(head("application/json", "Content-Length: " + body.length));
        out.write(body);
    }

    private static void streamHead(OutputStream out) throws IOException {
        out.write(head("text/event-stream", "Transfer-Encoding: chunked"));
        out.flush();
    }

    /** {@code total} bytes of {@code fill} in 64 KiB pieces (chunks when {@code chunked}). */
    private static void fill(OutputStream out, int total, byte fill, boolean chunked) throws IOException {
        byte[] piece = new byte[64 * 1024];
        Arrays.fill(piece, fill);
        for (int sent = 0; sent < total; sent += piece.length) {
            if (chunked) {
                chunk(out, piece);
            } else {
                out.write(piece);
            }
        }
    }

    private static void chunk(OutputStream out, String text) throws IOException {
        chunk(out, text.getBytes(StandardCharsets.UTF_8));
    }

    private static void chunk(OutputStream out, byte[] bytes) throws IOException {
        out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(bytes);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static void end(OutputStream out) throws IOException {
        out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    /** {@code size} spaces, gzipped: a JSON-looking answer a thousand times its own size. */
    private static byte[] gzip(int size) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            byte[] piece = new byte[64 * 1024];
            Arrays.fill(piece, (byte) ' ');
            for (int written = 0; written < size; written += piece.length) {
                gz.write(piece);
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return bytes.toByteArray();
    }

    /** Reads the request head and its Content-Length body; answers the request path. */
    private static String readRequestPath(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0) {
            head.write(b);
            byte[] h = head.toByteArray();
            int n = h.length;
            if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') {
                break;
            }
        }
        String[] lines = head.toString(StandardCharsets.US_ASCII).split("\r\n");
        int length = 0;
        for (String line : lines) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        in.readNBytes(length);
        return lines[0].split(" ")[1];
    }

    @Override
    public void close() throws IOException {
        closed.set(true);
        server.close();
        for (Socket socket : open) {
            socket.close();
        }
    }
}
