package io.caravan.outlet;

import io.caravan.intake.FatalErrors;
import org.apache.camel.Exchange;
import org.apache.kafka.common.errors.RecordTooLargeException;

/**
 * Whether a result, dead letter or usage event the broker did not take is sent again (the retry condition of
 * {@code routes/outlets.yaml}): always, while Caravan runs, except when the broker refused the record as too
 * large (sending it again cannot help; the caller replaces it with one that fits) or the JVM itself is failing.
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
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof RecordTooLargeException) {
                return false;
            }
        }
        return FatalErrors.vmError(failure) == null;
    }

    /** The shutdown grace period is over: publications still failing fail for good. */
    public void giveUp() {
        givenUp = true;
    }
}
