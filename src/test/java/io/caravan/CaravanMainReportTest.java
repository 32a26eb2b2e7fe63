package io.caravan;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code caravan report} is wired into the command switch and needs a broker address. */
class CaravanMainReportTest {

    @Test
    void reportWithoutABrokerSaysSoInOneLine() throws Exception {
        PrintStream originalErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = CaravanMain.run(new String[] {"report", "--by", "tier"});
        } finally {
            System.setErr(originalErr);
        }
        String message = err.toString(StandardCharsets.UTF_8).strip();
        assertThat(status).isEqualTo(2);
        assertThat(message.lines()).hasSize(1);
        assertThat(message).startsWith("caravan report: kafka.bootstrap-servers is not set");
    }
}
