package io.caravan.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP edge's fault runs against a Caravan already running on 127.0.0.1 (see bench/faults/*.sh):
 * <ul>
 *   <li>{@code idle}: opens {@code -Dfault.connections} TCP connections that send nothing and holds them for
 *       {@code -Dfault.hold-seconds}, while a legitimate caller asks {@code /health/live} and {@code /v1/tasks} once
 *       a second on connections of its own;</li>
 *   <li>{@code uploads}: {@code -Dfault.uploads} concurrent authenticated chunked uploads of
 *       {@code -Dfault.upload-bytes} each (no Content-Length) to {@code /v1/tasks}, then a legitimate caller at once.</li>
 * </ul>
 * Every second it samples the Caravan process ({@code -Dfault.pid}): open files and resident memory. Every loop is
 * bounded in count and time; only 127.0.0.1 is ever contacted.
 */
public final class EdgeFaults {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final String TASK = "{\"prompt\":\"are you still there?\"}";

    private final int port = Integer.getInteger("fault.port", 8080);
    private final long pid = Long.getLong("fault.pid", -1);
    private final String key = System.getProperty("fault.key", "");
    /** False in the helper processes that only hold connections (one process may open only so many files). */
    private final boolean measure = Boolean.parseBoolean(System.getProperty("fault.measure", "true"));

    public static void main(String[] args) throws Exception {
        EdgeFaults faults = new EdgeFaults();
        switch (args.length > 0 ? args[0] : "") {
            case "idle" -> faults.idle(Integer.getInteger("fault.connections", 20_000),
                    Integer.getInteger("fault.hold-seconds", 30));
            case "uploads" -> faults.uploads(Integer.getInteger("fault.uploads", 150),
                    Long.getLong("fault.upload-bytes", 16L << 20));
            default -> throw new IllegalArgumentException("usage: EdgeFaults idle|uploads");
        }
    }

    private void idle(int connections, int holdSeconds) throws Exception {
        if (measure) {
            print("before: %s, legit live/task ms and task status %s", process(), Arrays.toString(legit()));
        }
        Selector selector = Selector.open();
        List<SocketChannel> channels = new ArrayList<>();
        int failed = 0;
        long start = System.nanoTime();
        long openUntil = start + TimeUnit.SECONDS.toNanos(120);
        for (int i = 0; i < connections && System.nanoTime() < openUntil; i++) {
            try {
                SocketChannel ch = SocketChannel.open();
                ch.socket().connect(new InetSocketAddress(LOOPBACK, port), 2_000);
                ch.configureBlocking(false);
                ch.register(selector, SelectionKey.OP_READ);
                channels.add(ch);
            } catch (IOException e) {
                failed++;
            }
            if (i % 5000 == 4999) {
                print("  %d connects (%d failed) after %d ms: %s", i + 1, failed, ms(start), process());
            }
        }
        print("opened %d idle connections (%d connects failed) in %d ms", channels.size(), failed, ms(start));
        long worstLegit = 0;
        int closedByServer = 0;
        ByteBuffer sink = ByteBuffer.allocate(256);
        for (int s = 0; s < holdSeconds; s++) {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
            while (System.nanoTime() < until) {
                if (selector.select(200) > 0) {
                    for (SelectionKey k : selector.selectedKeys()) {
                        SocketChannel ch = (SocketChannel) k.channel();
                        try {
                            sink.clear();
                            if (ch.read(sink) < 0) {
                                closedByServer++;
                                k.cancel();
                                ch.close();
                            }
                        } catch (IOException e) {
                            closedByServer++;
                            k.cancel();
                            ch.close();
                        }
                    }
                    selector.selectedKeys().clear();
                }
            }
            if (!measure) {
                continue;
            }
            long[] l = legit();
            worstLegit = Math.max(worstLegit, Math.max(l[0], l[1]));
            print("t+%2ds held %d, closed by Caravan %d; %s; legit live %d ms, task %d ms (status %d)",
                    s + 1, channels.size() - closedByServer, closedByServer, process(), l[0], l[1], l[2]);
        }
        for (SocketChannel ch : channels) {
            ch.close();
        }
        print("RESULT idle: %d connections opened, %d closed by Caravan while held, worst legit answer %d ms, "
                + "Caravan %s", channels.size(), closedByServer, worstLegit, alive() ? "up" : "DOWN");
    }

    private void uploads(int uploads, long bytesEach) throws Exception {
        print("before: %s, legit live/task ms and task status %s", process(), Arrays.toString(legit()));
        Map<String, Integer> outcomes = new TreeMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(uploads);
        long start = System.nanoTime();
        List<java.util.concurrent.Future<String>> results = new ArrayList<>();
        for (int i = 0; i < uploads; i++) {
            results.add(pool.submit(() -> upload(bytesEach)));
        }
        Thread sampler = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    Thread.sleep(1000);
                    print("  t+%d ms: %s", ms(start), process());
                }
            } catch (InterruptedException ignored) {
                // done
            }
        });
        sampler.setDaemon(true);
        sampler.start();
        for (var r : results) {
            String outcome;
            try {
                outcome = r.get(300, TimeUnit.SECONDS);
            } catch (Exception e) {
                outcome = "client error " + e.getClass().getSimpleName();
            }
            outcomes.merge(outcome, 1, Integer::sum);
        }
        pool.shutdownNow();
        sampler.interrupt();
        long stormMs = ms(start);
        long end = System.nanoTime();
        long[] first = legit();
        long sinceEnd = ms(end);
        print("storm of %d x %d bytes over in %d ms: %s", uploads, bytesEach, stormMs, outcomes);
        print("RESULT uploads: %s; first legit answers after the storm: live %d ms, task %d ms (status %d), "
                + "%d ms after its end; Caravan %s, %s", outcomes, first[0], first[1], first[2], sinceEnd,
                alive() ? "up" : "DOWN", process());
    }

    /** One chunked upload; what Caravan answered (or how the connection ended). */
    private String upload(long bytes) {
        try (Socket socket = new Socket(LOOPBACK, port)) {
            socket.setSoTimeout(60_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key
                    + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            byte[] chunk = new byte[64 * 1024];
            Arrays.fill(chunk, (byte) 'a');
            byte[] size = (Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII);
            byte[] crlf = "\r\n".getBytes(StandardCharsets.US_ASCII);
            try {
                for (long sent = 0; sent < bytes; sent += chunk.length) {
                    out.write(size);
                    out.write(chunk);
                    out.write(crlf);
                }
                out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (IOException refusedMidBody) {
                // read the answer below, if it came
            }
            int status = status(socket.getInputStream());
            return status < 0 ? "closed without an answer" : String.valueOf(status);
        } catch (IOException e) {
            return "connection " + e.getClass().getSimpleName();
        }
    }

    /** A legitimate caller on fresh connections: {@code /health/live} and {@code /v1/tasks} ms, and the task status. */
    private long[] legit() {
        long t0 = System.nanoTime();
        int live = request("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        long liveMs = live == 200 ? ms(t0) : -1;
        long t1 = System.nanoTime();
        byte[] body = TASK.getBytes(StandardCharsets.UTF_8);
        int task = request("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                + (key.isEmpty() ? "" : "Authorization: Bearer " + key + "\r\n")
                + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n" + TASK);
        return new long[] {liveMs, ms(t1), task};
    }

    private int request(String raw) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(LOOPBACK, port), 5_000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(raw.getBytes(StandardCharsets.UTF_8));
            return status(socket.getInputStream());
        } catch (IOException e) {
            return -1;
        }
    }

    private static int status(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0 && b != '\n') {
            line.write(b);
        }
        String[] parts = line.toString(StandardCharsets.US_ASCII).split(" ");
        return parts.length > 1 ? Integer.parseInt(parts[1]) : -1;
    }

    private boolean alive() {
        return pid < 0 || Files.exists(Path.of("/proc/" + pid));
    }

    /** The Caravan process's open files and resident memory. */
    private String process() {
        if (pid < 0) {
            return "";
        }
        try {
            String[] fds = new java.io.File("/proc/" + pid + "/fd").list();
            String rss = Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream()
                    .filter(l -> l.startsWith("VmRSS")).findFirst().orElse("VmRSS: ?").replaceAll("\\s+", " ");
            return "caravan fds " + (fds == null ? "?" : fds.length) + ", " + rss;
        } catch (IOException e) {
            return "caravan gone";
        }
    }

    private static long ms(long since) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
    }

    private static synchronized void print(String format, Object... args) {
        System.out.println(String.format(format, args));
    }
}
