package io.caravan.intake;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.camel.Exchange;
import org.apache.camel.support.SynchronizationAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What Caravan does when the JVM itself is failing ({@link VirtualMachineError}: out of memory, stack overflow,
 * an internal error): after such an error no step can be trusted to answer a task or to leave the in-flight
 * accounting right, so the process stops at once, without shutdown hooks (they could hang on the same broken
 * heap), and with a non-zero status. Nothing of an unfinished Kafka task is committed, so the group hands it to
 * another instance (or to this one restarted), which answers it.
 *
 * <p>Camel hands a {@code java.lang.Error} thrown in a bean to the route wrapped in a
 * {@code CamelExecutionException}, so a route's {@code doCatch} of {@code Exception} sees it: {@link #check}
 * looks through the causes.
 */
public final class FatalErrors {

    /** The status the JVM itself exits with on {@code -XX:+ExitOnOutOfMemoryError}. */
    public static final int EXIT_STATUS = 3;
    /** The longest an HTTP door's answer may take to be written before the process stops anyway. */
    static final Duration ANSWER_GRACE = Duration.ofSeconds(2);

    private static final Logger LOG = LoggerFactory.getLogger(FatalErrors.class);

    /** Stops the process; tests put a recorder in its place. */
    @FunctionalInterface
    public interface Halt {
        void halt(int status);
    }

    private volatile Halt halt;

    public FatalErrors() {
        this(status -> Runtime.getRuntime().halt(status));
    }

    public FatalErrors(Halt halt) {
        this.halt = halt;
    }

    /** Replaces the halting action (tests: to see that it was called without stopping the test JVM). */
    public void haltWith(Halt halt) {
        this.halt = halt;
    }

    /** The JVM error somewhere in this throwable's causes, or null. */
    public static VirtualMachineError vmError(Throwable thrown) {
        for (Throwable t = thrown; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof VirtualMachineError e) {
                return e;
            }
        }
        return null;
    }

    /** Halts the process when {@code thrown} is, or was caused by, a JVM error; returns otherwise. */
    public void check(Throwable thrown, String where) {
        VirtualMachineError fatal = vmError(thrown);
        if (fatal != null) {
            haltOn(fatal, where);
        }
    }

    /** Logs one line (if the logger still can) and halts. */
    public void haltOn(VirtualMachineError fatal, String where) {
        try {
            LOG.error("{} in {}: stopping the process now (status {}); unfinished Kafka tasks are not committed and"
                    + " go to another instance", fatal, where, EXIT_STATUS);
        } catch (Throwable ignored) {
            // the heap may be too short even for this line: stop anyway
        }
        halt.halt(EXIT_STATUS);
    }

    /**
     * An HTTP door's way ({@code HttpIntake.broke}): its caller is answered first, so the process stops once the
     * exchange is done (platform-http has written the answer), or after {@link #ANSWER_GRACE} at the latest. A
     * waiting thread of its own, not a daemon, so the process cannot end with a clean status meanwhile; if even
     * that cannot be set up, it stops at once.
     */
    public void haltAfterAnswer(Exchange exchange, VirtualMachineError fatal, String where) {
        try {
            CountDownLatch answered = new CountDownLatch(1);
            exchange.getExchangeExtension().addOnCompletion(new SynchronizationAdapter() {
                @Override
                public void onDone(Exchange done) {
                    answered.countDown();
                }
            });
            Thread halting = new Thread(() -> {
                try {
                    answered.await(ANSWER_GRACE.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    // stop now
                }
                haltOn(fatal, where);
            }, "caravan-fatal-halt");
            halting.start();
        } catch (Throwable e) {
            haltOn(fatal, where);
        }
    }

    /**
     * For threads that die of an error no route saw (the launcher installs it as the default handler): a JVM
     * error halts the process, anything else is logged.
     */
    public Thread.UncaughtExceptionHandler uncaughtHandler() {
        return (thread, thrown) -> {
            VirtualMachineError fatal = vmError(thrown);
            if (fatal != null) {
                haltOn(fatal, "thread " + thread.getName());
            } else {
                LOG.error("thread {} died", thread.getName(), thrown);
            }
        };
    }
}
