package io.caravan.resilience;

import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import javax.net.ssl.SSLException;

/** Classifies any failure of a provider call: adapters' {@link ProviderError}s as they are, the rest by type. */
public final class ErrorClassifier {

    private ErrorClassifier() {}

    public static ErrorClass classify(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof ProviderError pe) {
                return pe.errorClass();
            }
            if (t instanceof CallNotPermittedException) {
                return ErrorClass.CIRCUIT_OPEN;
            }
            if (t instanceof SocketTimeoutException || t instanceof java.util.concurrent.TimeoutException
                    || t.getClass().getSimpleName().contains("Timeout")) {
                return ErrorClass.TIMEOUT;
            }
            if (t instanceof ConnectException || t instanceof UnknownHostException
                    || t instanceof NoRouteToHostException || t instanceof SocketException
                    || t instanceof SSLException || t instanceof org.apache.hc.core5.http.NoHttpResponseException
                    || t instanceof org.apache.hc.core5.http.ConnectionClosedException) {
                return ErrorClass.CONNECTION;
            }
            if (t instanceof InterruptedIOException || t instanceof InterruptedException) {
                return ErrorClass.CANCELLED;
            }
            if (t instanceof java.io.IOException && t.getCause() == null) {
                return ErrorClass.CONNECTION;
            }
        }
        return ErrorClass.SERVER_ERROR;
    }

    /**
     * A short, key-free description of a failure for logs and error messages: a provider's error as it is (already
     * made safe), any other failure's text made safe the same way.
     */
    public static String describe(Throwable failure) {
        if (failure instanceof ProviderError pe) {
            return pe.getMessage();
        }
        if (failure instanceof CallNotPermittedException) {
            return "circuit breaker open";
        }
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return ProviderError.safe(root.getClass().getSimpleName()
                + (root.getMessage() == null ? "" : ": " + root.getMessage()));
    }
}
