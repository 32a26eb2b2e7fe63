package io.caravan.intake;

import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.camel.AsyncCallback;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelExecutionException;
import org.apache.camel.Exchange;
import org.apache.camel.NamedNode;
import org.apache.camel.Processor;
import org.apache.camel.spi.InterceptStrategy;
import org.apache.camel.support.AsyncProcessorConverterHelper;
import org.apache.camel.support.processor.DelegateAsyncProcessor;
import org.apache.camel.support.processor.DelegateProcessor;
import org.apache.camel.support.processor.DelegateSyncProcessor;

/**
 * Makes a {@code java.lang.Error} thrown by any step of any route an exception of the exchange, which the routes'
 * {@code doCatch} and error handlers see. Camel 4.18 does so for a bean (it wraps the Error in a
 * {@code CamelExecutionException}), but not for a Java processor: its wrapper ({@code DelegateSyncProcessor})
 * catches only exceptions, hands the exchange on to the next step anyway (in a {@code finally}) and lets the
 * Error unwind past Camel's reactive executor (which also catches only exceptions); on a {@code threads} pool
 * thread it ends in the pool's future, unseen. The exchange then either carries on as if the step had worked or
 * simply stops, without a result, a log line or the release of its in-flight slot. A JVM error halts the process
 * at once ({@link FatalErrors}) before anything else.
 *
 * <p>Only an Error thrown before the step handed the exchange on is taken over; one thrown after that (further
 * down the same call stack) is left to propagate as before, so an exchange is never continued twice.
 */
public final class ErrorsAsExceptions implements InterceptStrategy {

    private final FatalErrors fatal;

    public ErrorsAsExceptions(FatalErrors fatal) {
        this.fatal = fatal;
    }

    @Override
    public Processor wrapProcessorInInterceptors(CamelContext context, NamedNode definition, Processor target,
            Processor nextTarget) {
        if (target instanceof DelegateSyncProcessor sync) {
            // a Java processor: Camel runs the rest of the route (finally) before the Error unwinds, so it must
            // become an exception inside, where Camel's own catch of exceptions takes it
            return new DelegateSyncProcessor(new DelegateProcessor(sync.getProcessor()) {
                @Override
                public void process(Exchange exchange) throws Exception {
                    try {
                        processor.process(exchange);
                    } catch (Error error) {
                        fatal.check(error, "route " + exchange.getFromRouteId());
                        throw new CamelExecutionException("java.lang.Error in a processor", exchange, error);
                    }
                }
            });
        }
        return new DelegateAsyncProcessor(AsyncProcessorConverterHelper.convert(target)) {
            @Override
            public boolean process(Exchange exchange, AsyncCallback callback) {
                OnceCallback once = new OnceCallback(callback);
                try {
                    return processor.process(exchange, once);
                } catch (Error error) {
                    fatal.check(error, "route " + exchange.getFromRouteId());
                    if (!once.claim()) {
                        throw error;
                    }
                    exchange.setException(error); // Camel wraps it in a CamelExecutionException
                    callback.done(true);
                    return true;
                }
            }
        };
    }

    /** The step's callback, run at most once: by the step, or by the catch when the step never handed on. */
    private static final class OnceCallback extends AtomicBoolean implements AsyncCallback {
        private static final long serialVersionUID = 1L;

        private final transient AsyncCallback callback;

        OnceCallback(AsyncCallback callback) {
            this.callback = callback;
        }

        boolean claim() {
            return compareAndSet(false, true);
        }

        @Override
        public void done(boolean doneSync) {
            if (claim()) {
                callback.done(doneSync);
            }
        }
    }
}
