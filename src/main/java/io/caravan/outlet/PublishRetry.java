package io.caravan.outlet;

import io.caravan.intake.FatalErrors;
import org.apache.camel.Exchange;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.RecordTooLargeException;

/**
 * Whether a result, dead letter or usage event the broker did not take is sent again (the retry condition of
 * {@code routes/outlets.yaml}): whenever the Kafka client failed (broker away, topic unknown yet, timeouts), while
 * Caravan runs, except when the broker refused the record as too large (sending it again cannot help; the caller
 * replaces it with one that fits). A failure outside the Kafka client, or a JVM error, is not retried.
 * Once the shutdown grace period is over, {@link #giveUp()} stops the retries: what is unpublished then stays
 * uncommitted and goes to the partition's next owner.
 */
public final class PublishRetry {

    private volatile boolean givenUp;

    public boolean shouldRetry(Exchange exchange) {
        if (givenUp) {
            return false;
        }
        Throwable failure = exchange.getException();
        if (failure == null) {
            failure = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        }
        boolean fromKafka = false;
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof RecordTooLargeException) {
                return false;
            }
            fromKafka |= t instanceof KafkaException;
        }
        // anything else (a bug in preparing the record) would fail the same way every time
        return fromKafka && FatalErrors.vmError(failure) == null;
    }

    /** The shutdown grace period is over: publications still failing fail for good. */
    public void giveUp() {
        givenUp = true;
    }
}
