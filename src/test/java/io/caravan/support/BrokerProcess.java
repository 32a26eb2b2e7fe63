package io.caravan.support;

import io.caravan.kafka.EmbeddedKafka;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * Caravan's own single-node broker ({@link EmbeddedKafka}) in a JVM of its own (the test classpath), for tests
 * that stop the broker and start it again on the same port and data folder. {@link #main} is the child's entry
 * point; {@link #start} launches it and waits until it answers. Output goes to a log file in the data folder.
 */
public final class BrokerProcess implements AutoCloseable {

    public final Path dir;
    public final int port;
    public final Process process;
    public final Path log;

    private BrokerProcess(Path dir, int port, Process process, Path log) {
        this.dir = dir;
        this.port = port;
        this.process = process;
        this.log = log;
    }

    /**
     * The child: {@code BrokerProcess DIR PORT} runs the broker until it is killed, or until its standard input
     * closes (the test JVM is gone), so that no broker outlives the build.
     */
    public static void main(String[] args) throws Exception {
        EmbeddedKafka broker = new EmbeddedKafka(Path.of(args[0]), Integer.parseInt(args[1])).start();
        System.out.println("broker ready on " + broker.bootstrapServers());
        while (System.in.read() != -1) {
            // nothing is ever sent; end of input means the parent died
        }
        Runtime.getRuntime().halt(1);
    }

    /** Starts the broker on this data folder and port (the controller takes port + 1) and waits until it answers. */
    public static BrokerProcess start(Path dir, int port, Duration within) throws Exception {
        Files.createDirectories(dir);
        Path log = dir.resolve("broker-" + System.nanoTime() + ".log");
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of("-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        cmd.add(BrokerProcess.class.getName());
        cmd.add(dir.resolve("data").toString());
        cmd.add(String.valueOf(port));
        Process process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        BrokerProcess broker = new BrokerProcess(dir, port, process, log);
        try {
            broker.awaitReady(within);
        } catch (Throwable e) {
            broker.close();
            throw e;
        }
        return broker;
    }

    public String bootstrapServers() {
        return "127.0.0.1:" + port;
    }

    /** An admin client on this broker (short timeouts). */
    public Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        return Admin.create(p);
    }

    /** Waits until the broker answers a describe-cluster with itself in it (fails early if the child died). */
    private void awaitReady(Duration within) throws Exception {
        long end = System.nanoTime() + within.toNanos();
        String last = "no answer yet";
        try (Admin admin = admin()) {
            while (System.nanoTime() < end) {
                if (!process.isAlive()) {
                    throw new AssertionError("the broker exited with " + process.exitValue() + ":\n" + output());
                }
                try {
                    if (!admin.describeCluster().nodes().get(2, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (Exception e) {
                    last = e.toString();
                }
                Thread.sleep(200);
            }
        }
        throw new AssertionError("the broker on " + bootstrapServers() + " did not answer within " + within + " ("
                + last + "):\n" + output());
    }

    /** Kills the broker ({@code kill -9}) and waits until the process is gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("the broker process did not die");
        }
    }

    /** A loopback port that is free, with the port after it (the controller's) free too. */
    public static int freePortPair() throws IOException {
        for (int i = 0; i < 50; i++) {
            int port = Caravan.freePort();
            if (port < 65535 && isFree(port + 1)) {
                return port;
            }
        }
        throw new IllegalStateException("no two free consecutive loopback ports found");
    }

    private static boolean isFree(int port) {
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public String output() {
        return CaravanProcess.readLog(log);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
