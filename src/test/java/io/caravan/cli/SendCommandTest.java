package io.caravan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.Settings;
import io.caravan.support.Caravan;
import io.caravan.support.TestKafka;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code caravan send}: a JSONL file onto the tasks topic, keyed by task id, with headers; bad lines skipped. */
class SendCommandTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int send(Settings settings, byte[] stdin, String... args) {
        return SendCommand.run(List.of(args), settings, new ByteArrayInputStream(stdin),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private static Settings settings(String tasksTopic) {
        return Settings.load().with("kafka.bootstrap-servers", TestKafka.bootstrapServers())
                .with("caravan.topics.tasks", tasksTopic);
    }

    @Test
    void aFileGoesToTheTasksTopicKeyedByIdWithHeadersAndABadLineIsReportedAndSkipped(@TempDir Path dir)
            throws Exception {
        String topic = Caravan.newPrefix() + ".tasks";
        Path file = dir.resolve("tasks.jsonl");
        String first = "{\"id\":\"s-1\",\"prompt\":\"Give me three fruits\"}";
        String noId = "{\"prompt\":\"A task without an id\"}";
        String third = "{\"id\":\"s-3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        Files.writeString(file, first + "\n" + "this is not json\n" + "\n" + noId + "\r\n" + third + "\n");

        int status = send(settings(topic), new byte[0], file.toString(), "-H", "caravan-tenant=acme",
                "-H", "traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        assertThat(status).as("a line was skipped").isEqualTo(1);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("line 2").contains("not a JSON task")
                .doesNotContain("line 3"); // a blank line is no task and no error
        assertThat(out.toString(StandardCharsets.UTF_8).strip())
                .isEqualTo("send: 3 tasks sent to " + topic + " on " + TestKafka.bootstrapServers()
                        + ", 1 skipped (bad lines, above)");
        List<ConsumerRecord<String, byte[]>> records = TestKafka.read(topic, 3, Duration.ofSeconds(20));
        assertThat(records).hasSize(3);
        Map<String, String> valueByKey = records.stream().collect(Collectors.toMap(ConsumerRecord::key,
                r -> new String(r.value(), StandardCharsets.UTF_8)));
        assertThat(valueByKey).containsEntry("s-1", first).containsEntry("s-3", third);
        String generated = valueByKey.keySet().stream().filter(k -> !k.startsWith("s-")).findFirst().orElseThrow();
        assertThat(UUID.fromString(generated)).isNotNull();
        assertThat(valueByKey.get(generated)).as("sent unchanged, CR dropped").isEqualTo(noId);
        for (ConsumerRecord<String, byte[]> record : records) {
            assertThat(new String(record.headers().lastHeader("caravan-tenant").value(), StandardCharsets.UTF_8))
                    .isEqualTo("acme");
            assertThat(record.headers().lastHeader("traceparent")).isNotNull();
        }
    }

    @Test
    void stdinWorksAndALineOverTheTaskLimitIsSkippedWithoutBeingHeld() {
        String topic = Caravan.newPrefix() + ".tasks";
        String small = "{\"id\":\"in-1\",\"prompt\":\"short\"}";
        String huge = "{\"id\":\"in-2\",\"prompt\":\"" + "x".repeat(5_000) + "\"}";
        byte[] stdin = (small + "\n" + huge + "\n" + small.replace("in-1", "in-3")).getBytes(StandardCharsets.UTF_8);

        int status = send(settings(topic).with("caravan.max-task-bytes", "1000"), stdin, "-");

        assertThat(status).isEqualTo(1);
        assertThat(err.toString(StandardCharsets.UTF_8).strip())
                .isEqualTo("caravan send: stdin line 2: over caravan.max-task-bytes (1000 bytes), skipped");
        assertThat(TestKafka.keys(TestKafka.read(topic, 2, Duration.ofSeconds(20)))).containsOnly("in-1", "in-3");
    }

    @Test
    void allLinesSentIsExitZero() {
        String topic = Caravan.newPrefix() + ".tasks";
        byte[] stdin = "{\"id\":\"ok-1\",\"prompt\":\"a\"}\n{\"id\":\"ok-2\",\"prompt\":\"b\"}\n"
                .getBytes(StandardCharsets.UTF_8);
        assertThat(send(settings(topic), stdin)).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(TestKafka.keys(TestKafka.read(topic, 2, Duration.ofSeconds(20)))).containsOnly("ok-1", "ok-2");
    }

    @Test
    void aBadHeaderOrOptionIsOneLineAndExitTwoBeforeAnyConnection() {
        assertThat(send(Settings.load(), new byte[0], "-H", "no-equals-sign")).isEqualTo(2);
        assertThat(send(Settings.load(), new byte[0], "--bogus")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8).lines()).hasSize(2)
                .allMatch(line -> line.startsWith("caravan send: "));
        assertThat(out.size()).isZero();
    }
}
