package io.caravan.cli;

import io.caravan.Setting;
import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.Settings;
import io.caravan.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code caravan send [FILE.jsonl|-] [-H name=value ...] [--topic TOPIC]}: publishes tasks, one JSON object a
 * line, to the tasks topic ({@code caravan.topics.tasks}) of the broker {@link Broker#address} names. Each line
 * goes unchanged; its key is the task's {@code id}, or a new UUID when it has none (Caravan takes the record key
 * as the id of a task without one, so the result carries that UUID). A line that is not a JSON object, or is over
 * {@code caravan.max-task-bytes}, is reported with its number and skipped; the exit status is then 1.
 */
public final class SendCommand {

    static final String USAGE = "usage: caravan send [FILE.jsonl|-] [-H name=value ...] [--topic TOPIC]";

    private SendCommand() {}

    public static int run(List<String> args, Settings settings, InputStream stdin, PrintStream out, PrintStream err) {
        List<String> rest = new ArrayList<>(args);
        List<String[]> headers = new ArrayList<>();
        String topic;
        try {
            for (String header; (header = headerOption(rest)) != null; ) {
                int eq = header.indexOf('=');
                if (eq < 1) {
                    throw new IllegalArgumentException("a header is -H name=value, not '" + header + "'");
                }
                headers.add(new String[] {header.substring(0, eq), header.substring(eq + 1)});
            }
            topic = Options.take(rest, "--topic");
            if (rest.size() > 1) {
                throw new IllegalArgumentException("one input at most, got '" + rest.get(0) + "' and '" + rest.get(1) + "'");
            }
            if (rest.size() == 1 && rest.get(0).startsWith("-") && !rest.get(0).equals("-")) {
                throw new IllegalArgumentException("unknown option '" + rest.get(0) + "'");
            }
        } catch (IllegalArgumentException e) {
            err.println("caravan send: " + e.getMessage() + " (" + USAGE + ")");
            return 2;
        }
        if (topic == null) {
            topic = settings.get(Setting.TOPICS_TASKS);
        }
        String input = rest.isEmpty() ? "-" : rest.get(0);
        String source = input.equals("-") ? "stdin" : input;
        InputStream in;
        try {
            in = input.equals("-") ? stdin : Files.newInputStream(Path.of(input));
        } catch (IOException e) {
            err.println("caravan send: cannot read " + input + ": " + e.getMessage());
            return 2;
        }
        int maxTaskBytes = settings.get(Setting.MAX_TASK_BYTES);
        String address = Broker.address(settings);
        Broker.quietClientLogs();
        AtomicInteger sent = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        int skipped = 0;
        try (InputStream lines = in; KafkaProducer<String, byte[]> producer = producer(address, maxTaskBytes)) {
            try {
                producer.partitionsFor(topic);
            } catch (TimeoutException e) {
                err.println("caravan send: cannot reach topic " + topic + " within 10 s; " + Broker.unreachable(settings, address));
                return 1;
            }
            LineReader reader = new LineReader(lines, maxTaskBytes);
            for (byte[] line; (line = reader.next()) != null; ) {
                int lineNo = reader.lineNumber();
                if (reader.overLimit()) {
                    err.println("caravan send: " + source + " line " + lineNo + ": over caravan.max-task-bytes ("
                            + maxTaskBytes + " bytes), skipped");
                    skipped++;
                    continue;
                }
                String key;
                try {
                    JsonNode task = Json.MAPPER.readTree(line);
                    if (task == null || task.isMissingNode()) {
                        continue; // a blank line
                    }
                    if (!task.isObject()) {
                        throw new IOException("a task is a JSON object");
                    }
                    key = task.hasNonNull("id") ? task.get("id").asText() : UUID.randomUUID().toString();
                } catch (IOException e) {
                    err.println("caravan send: " + source + " line " + lineNo + ": not a JSON task ("
                            + e.getMessage().lines().findFirst().orElse("") + "), skipped");
                    skipped++;
                    continue;
                }
                ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic, key, line);
                headers.forEach(h -> record.headers().add(h[0], h[1].getBytes(StandardCharsets.UTF_8)));
                producer.send(record, (metadata, e) -> {
                    if (e == null) {
                        sent.incrementAndGet();
                    } else {
                        failed.incrementAndGet();
                        err.println("caravan send: " + source + " line " + lineNo + ": not sent: " + e.getMessage());
                    }
                });
            }
            producer.flush();
        } catch (IOException e) {
            err.println("caravan send: cannot read " + source + ": " + e.getMessage());
            return 1;
        } catch (KafkaException e) {
            err.println("caravan send: " + e.getMessage() + "; " + Broker.unreachable(settings, address));
            return 1;
        }
        out.println("send: " + sent.get() + " tasks sent to " + topic + " on " + address
                + (skipped > 0 ? ", " + skipped + " skipped (bad lines, above)" : "")
                + (failed.get() > 0 ? ", " + failed.get() + " not sent" : ""));
        out.flush();
        return skipped + failed.get() == 0 ? 0 : 1;
    }

    /** Removes one {@code -H VALUE} / {@code --header VALUE} and returns the value, or null when none is left. */
    private static String headerOption(List<String> args) {
        return Options.take(args, "-H", "--header");
    }

    private static KafkaProducer<String, byte[]> producer(String address, int maxTaskBytes) {
        Properties p = Broker.client(address, "caravan-send");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        // a task at the size limit, with its headers, still fits in one request
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(maxTaskBytes + 65_536));
        return new KafkaProducer<>(p);
    }

    /**
     * Lines of bytes, each at most {@code max} long: the rest of a longer line is read past, not kept, so a
     * file without newlines cannot fill the memory. A trailing CR is dropped.
     */
    static final class LineReader {
        private final InputStream in;
        private final int max;
        private final byte[] buffer = new byte[65_536];
        private int pos;
        private int end;
        private int lineNumber;
        private boolean overLimit;

        LineReader(InputStream in, int max) {
            this.in = in;
            this.max = max;
        }

        /** The next line (empty when over the limit, see {@link #overLimit}), or null at the end. */
        byte[] next() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            long length = 0;
            int last = -1;
            boolean any = false;
            while (true) {
                if (pos == end) {
                    end = in.read(buffer);
                    pos = 0;
                    if (end <= 0) {
                        end = 0;
                        if (!any) {
                            return null;
                        }
                        break;
                    }
                }
                any = true;
                int start = pos;
                while (pos < end && buffer[pos] != '\n') {
                    pos++;
                }
                int count = pos - start;
                if (count > 0) {
                    last = buffer[pos - 1];
                }
                if (length + count <= max + 1) { // + 1: a CR before the newline is not counted
                    line.write(buffer, start, count);
                }
                length += count;
                if (pos < end) {
                    pos++; // the newline
                    break;
                }
            }
            lineNumber++;
            if (last == '\r') {
                length--;
            }
            overLimit = length > max;
            if (overLimit) {
                return new byte[0];
            }
            byte[] bytes = line.toByteArray();
            return java.util.Arrays.copyOf(bytes, (int) length);
        }

        int lineNumber() {
            return lineNumber;
        }

        boolean overLimit() {
            return overLimit;
        }
    }
}
