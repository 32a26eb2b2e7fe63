package io.caravan.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A whole Caravan in a JVM of its own ({@code io.caravan.CaravanMain run}, the test classpath), on the shared test
 * broker, for tests that kill it ({@code kill -9}) or stop it (SIGTERM). Output goes to a log file.
 */
public final class CaravanProcess implements AutoCloseable {

    public final Process process;
    public final Path log;

    private final Path dir;

    private CaravanProcess(Process process, Path dir, Path log) {
        this.dir = dir;
        this.process = process;
        this.log = log;
    }

    /** Starts {@code CaravanMain run} with this catalog, the topics and group of this prefix, and these settings. */
    public static CaravanProcess start(String catalogYaml, String prefix, Map<String, String> settings)
            throws IOException {
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        return start(catalogYaml, prefix, settings, javaBin, List.of("-Xmx256m", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1"));
    }

    /** The same with this java binary and these JVM options (the benchmark runs the JVM as in production). */
    public static CaravanProcess start(String catalogYaml, String prefix, Map<String, String> settings,
            String javaBin, List<String> jvmOptions) throws IOException {
        Path dir = Files.createTempDirectory("caravan-proc");
        Path catalog = dir.resolve("catalog.yaml");
        Files.writeString(catalog, catalogYaml);
        Path log = dir.resolve("caravan.log");
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBin);
        cmd.addAll(jvmOptions);
        cmd.add("-Dkafka.bootstrap-servers=" + TestKafka.bootstrapServers());
        cmd.add("-Dcaravan.catalog=" + catalog);
        cmd.add("-Dcaravan.http.port=" + Caravan.freePort());
        cmd.add("-Dcaravan.topics.tasks=" + prefix + ".tasks");
        cmd.add("-Dcaravan.topics.results=" + prefix + ".results");
        cmd.add("-Dcaravan.topics.usage=" + prefix + ".usage");
        cmd.add("-Dcaravan.topics.dlq=" + prefix + ".dlq");
        cmd.add("-Dcaravan.consumer.group=" + prefix + "-group");
        settings.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.add("-cp");
        // the product's classpath: the test classpath without test-classes (with it on the classpath, Camel Main's
        // scan of classpath:routes/*.yaml finds every route twice)
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        cmd.add(java.util.Arrays.stream(classpath.split(java.io.File.pathSeparator))
                .filter(entry -> !entry.endsWith("test-classes"))
                .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator)));
        cmd.add("io.caravan.CaravanMain");
        cmd.add("run");
        Process process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new CaravanProcess(process, dir, log);
    }

    /** Waits until the consumer group has this many members, each with partitions. */
    public static void awaitGroupMembers(String group, int members, Duration within) throws Exception {
        long end = System.nanoTime() + within.toNanos();
        try (var admin = TestKafka.admin()) {
            while (System.nanoTime() < end) {
                var description = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
                if (description != null && description.state() == org.apache.kafka.common.ConsumerGroupState.STABLE
                        && description.members().size() == members
                        && description.members().stream().allMatch(m -> !m.assignment().topicPartitions().isEmpty())) {
                    return;
                }
                Thread.sleep(200);
            }
        }
        throw new AssertionError("group " + group + " never had " + members + " members with partitions");
    }

    public String output() {
        return readLog(log);
    }

    /** What a child process wrote so far, for a failure message. */
    static String readLog(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
        try {
            process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        TempFolders.delete(dir);
    }
}
