package io.caravan.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where a running Caravan's CPU goes, in place: a JFR recording (the JDK's "profile" settings, Java stacks sampled
 * every millisecond) taken while a load runs, and the share of its samples that were tracing's. A sample
 * is tracing's when its stack holds Caravan's tracing code or OpenTelemetry's, or its thread is the exporter's
 * (OkHttp's, which only OpenTelemetry uses in Caravan). Unlike a microbenchmark this counts tracing's code as it runs
 * among everything else a task does (cold caches, other threads); unlike a wall-clock figure it does not care what
 * else the box runs. Its blind spot is the garbage collector's threads, which JFR does not sample: hence the bytes
 * allocated per request (from the heap's use around each collection) and the collector's share of the CPU, to set
 * tracing's own allocation against.
 */
record TracingProfile(long samples, long tracing, double allocatedBytes, double gcShare, double userShare,
        Map<String, Long> entries) {

    /**
     * Tracing's share of the process's CPU, at most: its share of the samples, which are of threads running Java code,
     * times the share of the CPU that was user time (the kernel's time for sockets and the like runs no Java code;
     * user time still holds the collector's and the JIT's, so this leans high).
     */
    double share() {
        return userShare * tracing / samples;
    }

    /** {@code load} runs against the Caravan of {@code pid} while it is recorded; it returns the requests it made. */
    static TracingProfile during(String javaBin, long pid, Load load) throws Exception {
        Path recording = Files.createTempFile("caravan-tracing-", ".jfr");
        Path settings = Files.createTempFile("caravan-tracing-", ".jfc");
        Path stat = Path.of("/proc/" + pid + "/stat");
        try {
            Files.writeString(settings, settings(javaBin));
            jcmd(javaBin, pid, "JFR.start", "name=caravan-tracing", "settings=" + settings);
            long ticks = Bench.cpuTicks(stat);
            long userTicks = Bench.userTicks(stat);
            long start = System.nanoTime();
            double requests = load.run();
            double seconds = (System.nanoTime() - start) / 1e9;
            ticks = Bench.cpuTicks(stat) - ticks;
            userTicks = Bench.userTicks(stat) - userTicks;
            jcmd(javaBin, pid, "JFR.stop", "name=caravan-tracing", "filename=" + recording);
            TracingProfile counted = of(recording);
            // USER_HZ 100; the collector's pauses (Serial: one thread, the world stopped) as a share of the CPU
            return new TracingProfile(counted.samples, counted.tracing, counted.allocatedBytes / (requests / seconds),
                    counted.gcShare / (ticks / 100.0), (double) userTicks / ticks, counted.entries);
        } finally {
            String keep = System.getProperty("bench.profile.keep");
            if (keep != null) {
                Files.createDirectories(Path.of(keep));
                Files.copy(recording, Path.of(keep, "caravan-" + pid + "-" + System.currentTimeMillis() + ".jfr"));
            }
            Files.deleteIfExists(recording);
            Files.deleteIfExists(settings);
        }
    }

    /**
     * The JDK's "profile" settings with Java stacks sampled every millisecond instead of ten: JFR takes at most a
     * few threads' stacks a period, and at 10 ms a 20 s load gave some 500 samples, too few to tell a point's
     * difference apart. The sampling costs each Caravan alike.
     */
    static String settings(String javaBin) throws java.io.IOException {
        Path home = Path.of(javaBin).toAbsolutePath().getParent().getParent();
        String profile = Files.readString(home.resolve("lib/jfr/profile.jfc"));
        String sampled = profile.replace("<setting name=\"period\" control=\"method-sampling-java-interval\">10 ms",
                "<setting name=\"period\" control=\"method-sampling-java-interval\">1 ms");
        if (sampled.equals(profile)) {
            throw new IllegalStateException("no Java sampling period in " + home + "/lib/jfr/profile.jfc");
        }
        return sampled;
    }

    interface Load {
        double run() throws Exception;
    }

    /**
     * The samples, tracing's among them, the bytes allocated a second and the seconds the collector paused.
     */
    static TracingProfile of(Path recording) throws Exception {
        long samples = 0;
        long tracing = 0;
        // the heap in use before each collection less after the one before: what was allocated between them
        List<RecordedEvent> heap = new java.util.ArrayList<>();
        double gcSeconds = 0;
        Map<String, Long> entries = new HashMap<>();
        try (RecordingFile file = new RecordingFile(recording)) {
            while (file.hasMoreEvents()) {
                RecordedEvent event = file.readEvent();
                String type = event.getEventType().getName();
                if (type.equals("jdk.ExecutionSample")) {
                    samples++;
                    String entry = tracingEntry(event.getThread("sampledThread"), event.getStackTrace());
                    if (entry != null) {
                        tracing++;
                        entries.merge(entry, 1L, Long::sum);
                    }
                } else if (type.equals("jdk.GCHeapSummary")) {
                    heap.add(event);
                } else if (type.equals("jdk.GarbageCollection")) {
                    gcSeconds += event.getDuration("sumOfPauses").toNanos() / 1e9;
                }
            }
        }
        double allocated = allocationRate(heap);
        return new TracingProfile(samples, tracing, allocated, gcSeconds, 1, entries);
    }

    /**
     * Where a tracing sample entered tracing's code (the frame of it nearest the thread's root, e.g. {@code
     * TaskTracing.begin} or the span processor's worker): which step its time belongs to; null when not tracing's.
     */
    static String tracingEntry(RecordedThread thread, RecordedStackTrace stack) {
        String entry = null;
        if (stack != null) {
            for (RecordedFrame frame : stack.getFrames()) {
                String type = frame.getMethod().getType().getName();
                if (type.startsWith("io.caravan.tracing.") || type.startsWith("io.opentelemetry.")
                        || type.startsWith("okhttp3.")) {
                    entry = type.substring(type.lastIndexOf('.') + 1) + "." + frame.getMethod().getName();
                }
            }
        }
        if (entry == null && thread != null && thread.getJavaName() != null
                && thread.getJavaName().startsWith("OkHttp")) {
            entry = "OkHttp thread";
        }
        return entry;
    }

    /** The commonest entries into tracing's code, with their share of all samples. */
    String topEntries(int count) {
        return entries.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(count)
                .map(e -> String.format(Locale.ROOT, "%s %.2f%%", e.getKey(), 100.0 * e.getValue() / samples))
                .collect(java.util.stream.Collectors.joining(", "));
    }

    /** Bytes allocated a second, from the heap's use around each collection (a young collection empties eden). */
    static double allocationRate(List<RecordedEvent> heap) {
        heap.sort(java.util.Comparator.comparing(RecordedEvent::getStartTime));
        RecordedEvent after = null;
        RecordedEvent firstAfter = null;
        RecordedEvent lastBefore = null;
        double bytes = 0;
        for (RecordedEvent event : heap) {
            if (event.getString("when").equals("After GC")) {
                after = event;
                firstAfter = firstAfter == null ? event : firstAfter;
            } else if (after != null) {
                bytes += event.getLong("heapUsed") - after.getLong("heapUsed");
                lastBefore = event;
            }
        }
        if (lastBefore == null) {
            return Double.NaN;
        }
        return bytes / (java.time.Duration.between(firstAfter.getStartTime(), lastBefore.getStartTime()).toNanos() / 1e9);
    }

    /** A profile of several recordings of one Caravan, summed (allocation and collector share averaged). */
    TracingProfile plus(TracingProfile more) {
        if (samples == 0) {
            return more;
        }
        Map<String, Long> summed = new HashMap<>(entries);
        more.entries.forEach((k, v) -> summed.merge(k, v, Long::sum));
        return new TracingProfile(samples + more.samples, tracing + more.tracing,
                (allocatedBytes + more.allocatedBytes) / 2, (gcShare + more.gcShare) / 2,
                (userShare * samples + more.userShare * more.samples) / (samples + more.samples), summed);
    }

    /**
     * This profile's tracing share minus {@code base}'s, in percentage points, with its 95 % interval (two
     * proportions, the samples taken as independent).
     */
    String against(TracingProfile base) {
        return String.format(Locale.ROOT, "%+.2f ± %.2f points", 100 * (share() - base.share()), 100 * halfWidth(base));
    }

    double upperAgainst(TracingProfile base) {
        return 100 * (share() - base.share() + halfWidth(base));
    }

    /** 95 % of two sample proportions, each scaled by its user share. */
    private double halfWidth(TracingProfile base) {
        double p = (double) tracing / samples;
        double q = (double) base.tracing / base.samples;
        return 1.96 * Math.sqrt(userShare * userShare * p * (1 - p) / samples
                + base.userShare * base.userShare * q * (1 - q) / base.samples);
    }

    private static void jcmd(String javaBin, long pid, String... command) throws Exception {
        Path jcmd = Path.of(javaBin).resolveSibling("jcmd");
        List<String> line = new java.util.ArrayList<>(List.of(Files.isExecutable(jcmd) ? jcmd.toString() : "jcmd",
                String.valueOf(pid)));
        line.addAll(List.of(command));
        Process process = new ProcessBuilder(line).redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IllegalStateException("jcmd " + String.join(" ", command) + ": " + out);
        }
    }
}
