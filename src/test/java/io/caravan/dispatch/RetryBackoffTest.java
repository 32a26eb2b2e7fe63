package io.caravan.dispatch;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The exponential backoff between calls on one deployment: first x 2^retry, capped at 10 s, jittered by 20%. */
class RetryBackoffTest {

    @ParameterizedTest(name = "first {0} ms, retry {1}: about {2} ms")
    @CsvSource({
            "200, 0, 200",
            "200, 1, 400",
            "200, 3, 1600",
            "500, 4, 8000",
            "500, 5, 10000",   // capped
            "1000, 40, 10000", // a huge retry count neither overflows nor passes the cap
    })
    void eachRetryWaitsAboutTwiceAsLongUpToTheCap(long firstMs, int retry, long expectedMs) {
        for (int i = 0; i < 200; i++) {
            long ms = RetryPolicy.backoff(Duration.ofMillis(firstMs), retry).toMillis();
            assertThat(ms).isBetween(Math.round(expectedMs * 0.8), Math.min(RetryPolicy.MAX_BACKOFF.toMillis(),
                    Math.round(expectedMs * 1.2)));
        }
    }
}
