package io.caravan.intake;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.apache.camel.Exchange;
import org.apache.camel.component.kafka.KafkaConstants;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.Test;

/** A record's in-flight slot is released once whatever path ends its task; the watchdog sees a stall. */
class InFlightSlotTest {

    private static Exchange record(DefaultCamelContext camel, long offset) {
        Exchange exchange = new DefaultExchange(camel);
        exchange.getMessage().setHeader(KafkaConstants.TOPIC, "tasks");
        exchange.getMessage().setHeader(KafkaConstants.PARTITION, 0);
        exchange.getMessage().setHeader(KafkaConstants.OFFSET, offset);
        return exchange;
    }

    @Test
    void aSlotIsReleasedOnceEvenWhenBothTheWorkerAndItsCatchReleaseIt() throws Exception {
        KafkaInFlight inFlight = new KafkaInFlight(4, new FatalErrors(status -> {
            throw new AssertionError("no halt expected");
        }));
        try (DefaultCamelContext camel = new DefaultCamelContext()) {
            Exchange first = record(camel, 0);
            Exchange second = record(camel, 1);
            inFlight.admit(first);
            inFlight.admit(second);
            assertThat(inFlight.inFlight()).isEqualTo(2);

            inFlight.done(first);
            inFlight.failed(first);
            inFlight.done(first);
            assertThat(inFlight.inFlight()).isEqualTo(1);
            inFlight.failed(second);
            inFlight.failed(second);
            assertThat(inFlight.inFlight()).isZero();
        }
    }

    @Test
    void theWatchdogReportsTasksWaitingWithNothingFinishedForTheLimit() throws Exception {
        KafkaInFlight inFlight = new KafkaInFlight(4);
        try (DefaultCamelContext camel = new DefaultCamelContext()) {
            assertThat(inFlight.stall(Duration.ZERO)).as("idle is not stalled").isNull();
            Exchange exchange = record(camel, 0);
            inFlight.admit(exchange);
            assertThat(inFlight.stall(Duration.ofMinutes(5))).isNull();
            assertThat(inFlight.stall(Duration.ZERO)).contains("1 in flight");
            inFlight.done(exchange);
            // finished but not yet committed (commits happen after the next poll): still waiting on the broker
            assertThat(inFlight.stall(Duration.ZERO)).contains("0 in flight and 1 uncommitted");
        }
    }
}
