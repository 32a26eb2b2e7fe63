package io.caravan.provider;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RetryAfterTest {

    private static final Clock CLOCK = Clock.fixed(Instant.parse("2025-10-21T07:28:00Z"), ZoneOffset.UTC);

    @Test
    void readsDeltaSeconds() {
        assertThat(RetryAfter.parse(Map.of("Retry-After", "20"), CLOCK)).isEqualTo(Duration.ofSeconds(20));
        assertThat(RetryAfter.parse(Map.of("retry-after", "1.5"), CLOCK)).isEqualTo(Duration.ofMillis(1500));
    }

    @Test
    void readsHttpDate() {
        assertThat(RetryAfter.parse(Map.of("RETRY-AFTER", "Tue, 21 Oct 2025 07:28:30 GMT"), CLOCK))
                .isEqualTo(Duration.ofSeconds(30));
        assertThat(RetryAfter.parse(Map.of("Retry-After", "Tue, 21 Oct 2025 07:00:00 GMT"), CLOCK))
                .isEqualTo(Duration.ZERO);
    }

    @Test
    void retryAfterMsWinsAndListsAreRead() {
        Map<String, Object> headers = Map.of("Retry-After", "20", "Retry-After-Ms", List.of("250"));
        assertThat(RetryAfter.parse(headers, CLOCK)).isEqualTo(Duration.ofMillis(250));
    }

    @Test
    void absentOrGarbageGivesNull() {
        assertThat(RetryAfter.parse(Map.of(), CLOCK)).isNull();
        assertThat(RetryAfter.parse(null, CLOCK)).isNull();
        assertThat(RetryAfter.parse(Map.of("Retry-After", "soon"), CLOCK)).isNull();
        assertThat(RetryAfter.parse(Map.of("Retry-After", "-3"), CLOCK)).isNull();
    }
}
