package io.caravan.cli;

import io.caravan.Setting;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.Settings;
import io.caravan.util.Json;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code caravan batch IN.jsonl -o OUT.jsonl --deadline INSTANT | --max-delay DURATION}: the file's requests go to a
 * running Caravan's tasks topic as tasks with that deadline (each {@code custom_id} is the task id), so they take the
 * provider batch path at the batch price when the deadline leaves time; their results are read from the results topic
 * as they come and written to OUT in OpenAI's Batch output shape. Resumable: custom_ids already in OUT are not sent
 * again, and the results topic is read in a consumer group named after the input file, so a restarted run picks up
 * where it stopped.
 */
final class BatchDeadlineRun {

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

    private BatchDeadlineRun() {}

    static int run(Settings settings, Path in, Path out, String deadline, String maxDelay, PrintStream stdout,
            PrintStream err) throws IOException {
        String bootstrap = settings.get(Setting.KAFKA_BOOTSTRAP_SERVERS);
        if (bootstrap == null) {
            err.println("caravan batch: --deadline/--max-delay hand the file to a running Caravan: set "
                    + "kafka.bootstrap-servers to its broker");
            return 2;
        }
        Set<String> done = BatchCommand.alreadyDone(out);
        Set<String> waiting = new HashSet<>();
        String group = "caravan-batch-" + Integer.toHexString(in.toAbsolutePath().toString().hashCode());
        Broker.quietClientLogs();
        try (KafkaConsumer<String, byte[]> results = consumer(bootstrap, group);
                KafkaProducer<String, byte[]> tasks = producer(bootstrap);
                BufferedWriter writer = Files.newBufferedWriter(out, StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            results.subscribe(List.of(settings.get(Setting.TOPICS_RESULTS)));
            // joined before anything is sent: no result is missed
            long joinBy = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (results.assignment().isEmpty() && System.nanoTime() < joinBy) {
                results.poll(Duration.ofMillis(100)).forEach(r -> take(r, waiting, writer));
            }
            int lineNo = 0;
            for (String line : Files.readAllLines(in, StandardCharsets.UTF_8)) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode request = io.caravan.provider.AdapterSupport.parseOrNull(line.getBytes(StandardCharsets.UTF_8));
                String customId = request == null ? null : request.path("custom_id").asText(null);
                if (customId != null && done.contains(customId)) {
                    continue;
                }
                if (customId == null || !ID.matcher(customId).matches() || !request.path("body").isObject()) {
                    writer.write(Json.text(BatchCommand.errorLine(customId, lineNo, customId == null
                            ? "custom_id is missing" : !ID.matcher(customId).matches()
                            ? "custom_id must be 1 to 128 characters of [A-Za-z0-9._:-] to travel as a task id"
                            : "body must be a JSON object")));
                    writer.newLine();
                    continue;
                }
                ObjectNode body = (ObjectNode) request.get("body");
                ObjectNode task = Json.object();
                task.put("id", customId);
                task.set("messages", body.get("messages"));
                ObjectNode params = body.deepCopy();
                params.remove(List.of("messages", "model", "stream", "stream_options"));
                task.set("params", params);
                if (deadline != null) {
                    task.put("deadline", deadline);
                } else {
                    task.put("max_delay", maxDelay);
                }
                tasks.send(new ProducerRecord<>(settings.get(Setting.TOPICS_TASKS), customId,
                        Json.bytes(task)));
                waiting.add(customId);
            }
            tasks.flush();
            writer.flush();
            err.printf(Locale.ROOT, "caravan batch: %d requests handed to Caravan with a deadline; waiting for their "
                    + "results (Ctrl-C stops waiting; run again to resume)%n", waiting.size());
            int total = waiting.size();
            while (!waiting.isEmpty()) {
                for (ConsumerRecord<String, byte[]> r : results.poll(Duration.ofSeconds(1))) {
                    take(r, waiting, writer);
                }
                writer.flush();
                results.commitSync();
            }
            stdout.printf(Locale.ROOT, "batch: %d answered through Caravan's deadline path, written to %s%n", total,
                    out);
            return 0;
        }
    }

    private static void take(ConsumerRecord<String, byte[]> r, Set<String> waiting, BufferedWriter writer) {
        if (r.key() == null || !waiting.remove(r.key())) {
            return;
        }
        try {
            writer.write(Json.text(outputLine(r.key(), Json.MAPPER.readTree(r.value()))));
            writer.newLine();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A result in OpenAI's Batch output shape. */
    static ObjectNode outputLine(String customId, JsonNode result) {
        ObjectNode line = Json.object();
        line.put("id", "batch_req_" + customId);
        line.put("custom_id", customId);
        if ("ok".equals(result.path("status").asText())) {
            ObjectNode response = line.putObject("response");
            response.put("status_code", 200);
            response.put("request_id", customId);
            ObjectNode body = response.putObject("body");
            body.put("id", "chatcmpl-" + customId);
            body.put("object", "chat.completion");
            body.put("created", Instant.now().getEpochSecond());
            body.put("model", result.path("provider_model").asText(""));
            ObjectNode choice = body.putArray("choices").addObject();
            choice.put("index", 0);
            choice.set("message", result.get("output"));
            choice.put("finish_reason", result.path("finish_reason").asText("stop"));
            ObjectNode usage = body.putObject("usage");
            long in = result.at("/usage/input_tokens").asLong();
            long outTokens = result.at("/usage/output_tokens").asLong();
            usage.put("prompt_tokens", in);
            usage.put("completion_tokens", outTokens);
            usage.put("total_tokens", in + outTokens);
            body.put("x_caravan_mode", result.path("mode").asText());
            body.put("x_caravan_cost_usd", result.at("/usage/cost_usd").asDouble());
            line.putNull("error");
        } else {
            line.putNull("response");
            ObjectNode error = line.putObject("error");
            error.put("code", result.at("/error/type").asText("server_error"));
            error.put("message", result.at("/error/message").asText(""));
        }
        return line;
    }

    private static KafkaConsumer<String, byte[]> consumer(String bootstrap, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    private static KafkaProducer<String, byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new KafkaProducer<>(p);
    }
}
