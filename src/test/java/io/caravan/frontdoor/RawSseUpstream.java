package io.caravan.frontdoor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A bare HTTP/1.1 upstream for the faults WireMock cannot make mid-body: it answers 200 with the first events of an
 * OpenAI stream, then, by the request's text, closes the body early ({@code TRUNCATE}), stalls ({@code STALL}), or
 * waits for the caller to drop the connection ({@code HANG}, recorded in {@link #droppedByCaravan}); a request
 * with {@code SILENT} gets no answer at all, and its dropped connection is recorded in {@link #silentDropped}.
 */
final class RawSseUpstream implements AutoCloseable {

    private final ServerSocket server;
    private final Thread acceptor;
    final CountDownLatch droppedByCaravan = new CountDownLatch(1);
    final CountDownLatch silentReceived = new CountDownLatch(1);
    final CountDownLatch silentDropped = new CountDownLatch(1);
    private final AtomicBoolean closed = new AtomicBoolean();

    RawSseUpstream() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = new Thread(this::acceptLoop, "raw-sse-upstream");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    private void acceptLoop() {
        while (!closed.get()) {
            try {
                Socket socket = server.accept();
                Thread t = new Thread(() -> serve(socket), "raw-sse-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            String request = readRequest(socket.getInputStream());
            if (request.contains("SILENT")) {
                silentReceived.countDown();
                if (droppedWithin(socket, 30_000)) {
                    silentDropped.countDown();
                }
                return;
            }
            OutputStream out = socket.getOutputStream();
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                    + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            chunk(out, FrontDoorFixtures.chunk("{\"role\":\"assistant\",\"content\":\"\"}", null)
                    + FrontDoorFixtures.chunk("{\"content\":\"half an ans\"}", null));
            out.flush();
            if (request.contains("STALL")) {
                Thread.sleep(5_000);
            } else if (request.contains("HANG")) {
                if (droppedWithin(socket, 15_000)) {
                    droppedByCaravan.countDown();
                }
                return;
            }
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII)); // the body ends: no finish, no [DONE]
            out.flush();
        } catch (IOException | InterruptedException ignored) {
            // the caller went away
        }
    }

    /** Waits for the other end to close the connection; false when it is still open after the time. */
    private static boolean droppedWithin(Socket socket, int millis) {
        try {
            socket.setSoTimeout(millis);
            return socket.getInputStream().read() < 0;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    private static void chunk(OutputStream out, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(bytes);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    /** Reads the request head and its Content-Length body. */
    private static String readRequest(InputStream in) throws IOException {
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
        String headers = head.toString(StandardCharsets.US_ASCII);
        int length = 0;
        for (String line : headers.split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        byte[] body = in.readNBytes(length);
        return new String(body, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        closed.set(true);
        server.close();
    }
}
