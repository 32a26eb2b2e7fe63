package io.caravan.cli;

import io.caravan.Setting;
import com.fasterxml.jackson.databind.JsonNode;
import io.caravan.Settings;
import io.caravan.intake.KafkaIntake;
import io.caravan.util.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * {@code caravan tail [results|usage|dlq] [--from-beginning] [--max N] [--json] [--topic TOPIC]}: follows one of
 * Caravan's topics on the broker {@link Broker#address} names and prints one compact line per record (or its raw
 * value with {@code --json}), from now or from the beginning, until {@code --max} records or Ctrl-C. It reads
 * with a plain consumer: no group, nothing committed, nothing created.
 */
public final class TailCommand {

    static final String USAGE = "usage: caravan tail [results|usage|dlq] [--from-beginning] [--max N] [--json]"
            + " [--topic TOPIC]";

    /** Longest error message printed in a compact line. */
    private static final int MAX_MESSAGE_CHARS = 200;

    private TailCommand() {}

    public static int run(List<String> args, Settings settings, PrintStream out, PrintStream err) {
        List<String> rest = new ArrayList<>(args);
        boolean fromBeginning = rest.remove("--from-beginning");
        boolean json = rest.remove("--json");
        String which;
        String topic;
        long max;
        try {
            String maxText = Options.take(rest, "--max");
            try {
                max = maxText == null ? Long.MAX_VALUE : Long.parseLong(maxText);
            } catch (NumberFormatException e) {
                max = 0;
            }
            if (max < 1) {
                throw new IllegalArgumentException("--max must be a positive number, not '" + maxText + "'");
            }
            topic = Options.take(rest, "--topic");
            which = rest.isEmpty() ? "results" : rest.remove(0);
            if (!List.of("results", "usage", "dlq").contains(which)) {
                throw new IllegalArgumentException((which.startsWith("-") ? "unknown option '" : "unknown topic '")
                        + which + "'");
            }
            if (!rest.isEmpty()) {
                throw new IllegalArgumentException("unexpected argument '" + rest.get(0) + "'");
            }
        } catch (IllegalArgumentException e) {
            err.println("caravan tail: " + e.getMessage() + " (" + USAGE + ")");
            return 2;
        }
        if (topic == null) {
            topic = settings.get(switch (which) {
                case "usage" -> Setting.TOPICS_USAGE;
                case "dlq" -> Setting.TOPICS_DLQ;
                default -> Setting.TOPICS_RESULTS;
            });
        }
        String address = Broker.address(settings);
        Broker.quietClientLogs();
        Properties p = Broker.client(address, "caravan-tail");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "1000");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        long printed = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<PartitionInfo> infos;
            try {
                infos = consumer.partitionsFor(topic, Duration.ofSeconds(10));
            } catch (TimeoutException e) {
                err.println("caravan tail: " + Broker.unreachable(settings, address));
                return 1;
            }
            if (infos == null || infos.isEmpty()) {
                err.println("caravan tail: no topic " + topic + " on " + address
                        + " (`caravan run` creates it at start-up)");
                return 1;
            }
            List<TopicPartition> partitions = infos.stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            consumer.assign(partitions);
            if (fromBeginning) {
                consumer.seekToBeginning(partitions);
            } else {
                consumer.seekToEnd(partitions);
            }
            // fix "now" at once: a lazy position would skip what arrives before the first poll answers
            partitions.forEach(consumer::position);
            while (printed < max) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    out.println(json ? raw(record) : line(which, record));
                    if (++printed >= max) {
                        break;
                    }
                }
                out.flush();
            }
        } catch (KafkaException e) {
            err.println("caravan tail: cannot read " + topic + " from " + address + ": " + e.getMessage());
            return 1;
        }
        return 0;
    }

    private static String raw(ConsumerRecord<byte[], byte[]> record) {
        return record.value() == null ? "null" : new String(record.value(), StandardCharsets.UTF_8);
    }

    /** One compact line for a record of this kind of topic. */
    static String line(String which, ConsumerRecord<byte[], byte[]> record) {
        String key = record.key() == null ? "-" : new String(record.key(), StandardCharsets.UTF_8);
        if (which.equals("dlq")) {
            return printable("key=" + key + " error=" + header(record, KafkaIntake.ERROR_TYPE_HEADER)
                    + ": " + clip(header(record, KafkaIntake.ERROR_MESSAGE_HEADER))
                    + " (" + (record.value() == null ? 0 : record.value().length) + " bytes)");
        }
        JsonNode n;
        try {
            n = record.value() == null ? null : Json.MAPPER.readTree(record.value());
        } catch (IOException e) {
            n = null;
        }
        if (n == null || !n.isObject()) {
            return printable("key=" + key + " (not a JSON object, "
                    + (record.value() == null ? 0 : record.value().length) + " bytes)");
        }
        StringBuilder line = new StringBuilder();
        if (which.equals("usage")) {
            line.append("task=").append(n.path("task_id").asText(key));
            field(line, "attempt", n.path("attempt"));
            field(line, "deployment", n.path("deployment"));
            field(line, "outcome", n.path("outcome"));
            cost(line, n.path("cost_usd"));
            line.append(" tokens=").append(n.path("input_tokens").asLong()).append('/')
                    .append(n.path("output_tokens").asLong());
            latency(line, n.path("latency_ms"));
            field(line, "tenant", n.path("metadata").path("tenant"));
        } else {
            line.append(n.path("id").asText(key)).append(' ').append(n.path("status").asText("?"));
            field(line, "tier", n.path("tier"));
            field(line, "model", n.path("model"));
            field(line, "provider", n.path("provider"));
            cost(line, n.path("usage").path("cost_usd"));
            latency(line, n.path("latency_ms"));
            if (n.path("fallback").asBoolean(false)) {
                line.append(" fallback");
            }
            JsonNode error = n.path("error");
            if (error.isObject()) {
                line.append(" error=").append(error.path("type").asText("?")).append(": ")
                        .append(clip(error.path("message").asText("")));
            }
        }
        return printable(line.toString());
    }

    private static void field(StringBuilder line, String name, JsonNode value) {
        if (!value.isMissingNode() && !value.isNull()) {
            line.append(' ').append(name).append('=').append(value.asText());
        }
    }

    private static void cost(StringBuilder line, JsonNode value) {
        if (value.isNumber()) {
            line.append(String.format(Locale.ROOT, " cost=$%.6f", value.asDouble()));
        }
    }

    private static void latency(StringBuilder line, JsonNode value) {
        if (value.isNumber()) {
            line.append(' ').append(value.asLong()).append("ms");
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        Header header = record.headers().lastHeader(name);
        return header == null || header.value() == null ? "-" : new String(header.value(), StandardCharsets.UTF_8);
    }

    private static String clip(String text) {
        return text.length() <= MAX_MESSAGE_CHARS ? text : text.substring(0, MAX_MESSAGE_CHARS) + "…";
    }

    /** A record's text must not drive the terminal: control characters become '?'. */
    private static String printable(String text) {
        StringBuilder safe = new StringBuilder(text.length());
        text.codePoints().forEach(c -> safe.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return safe.toString();
    }
}
