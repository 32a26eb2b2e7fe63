package io.caravan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.Settings;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The training run behind the class archive / AOT cache drives the paths production takes, the provider HTTP
 * client and the OpenAI adapter among them (a cache trained on the simulated provider alone left them cold).
 */
class TrainCommandTest {

    @Test
    void aTrainingRunCallsItsLoopbackProviderPlainAndStreamedAndAnswersFromKafkaToo() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = TrainCommand.run(List.of("--seconds", "3"), Settings.load(),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));

        String said = out.toString(StandardCharsets.UTF_8);
        assertThat(status).as(err.toString(StandardCharsets.UTF_8)).isZero();
        Matcher m = Pattern.compile("caravan train: (\\d+) answers, (\\d+) calls to the loopback provider").matcher(said);
        assertThat(m.find()).as(said).isTrue();
        assertThat(Integer.parseInt(m.group(1))).isPositive();
        // plain, streamed and task calls each reach it, so far more than a handful in three seconds
        assertThat(Integer.parseInt(m.group(2))).isGreaterThan(10);
    }
}
