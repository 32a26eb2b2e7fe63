package io.caravan.resilience;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.accounting.UsageEvent;
import io.caravan.provider.Headroom;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** How much of a key's limit one instance of a fleet may take, and what it reads of its peers' events. */
class FleetSharesTest {

    @ParameterizedTest(name = "limit {0}, available {1}, own {2}, members {3}, strict {4}, elapsed {5}: {6}")
    @CsvSource({
            // alone: the whole bucket
            "10, 10, 0, 1, false, 0.0, true",
            "10, 1,  9, 1, false, 0.0, true",
            "10, 0, 10, 1, false, 0.9, false",
            // three members: a share of 3 each, always within it
            "10, 10, 0, 3, false, 0.0, true",
            "10, 8,  2, 3, false, 0.0, true",
            // beyond the share in the first half: the others' unused shares are held for them
            "10, 7,  3, 3, false, 0.1, false",
            "10, 7,  3, 3, false, 0.5, false",
            "10, 7,  3, 3, false, 0.85, false",
            // every share used: the spare of 1 is not grabbed by all three at once
            "10, 1,  3, 3, false, 0.9, false",
            // the others are idle: late in the window this one borrows its part of what they leave
            "600, 400, 200, 3, false, 0.95, true",
            "600, 400, 200, 3, false, 0.5, false",
            // the peers' calls are not seen: strictly the share, whatever the time
            "600, 400, 200, 3, true, 0.99, false",
            "600, 401, 199, 3, true, 0.0, true",
            // nothing left in the bucket: nothing, even within the share
            "10, 0, 0, 3, false, 0.0, false",
    })
    void fits(long limit, long available, long own, int members, boolean strict, double elapsed, boolean fits) {
        assertThat(RateLimits.fits(limit, available, own, 1, members, strict, elapsed)).isEqualTo(fits);
    }

    @Test
    void eventsOfPeersAreReadWithTheirFleetFieldsAndNonsenseIsLeftOut() {
        UsageEvent e = UsageEvent.parse(("{\"task_id\":\"t\",\"provider\":\"kimi\",\"outcome\":\"rate_limited\","
                + "\"instance\":\"host-1-ab12\",\"key_id\":\"9f86d081884c\",\"retry_after_ms\":1500,"
                + "\"headroom\":{\"requests\":0,\"tokens\":null,\"reset_ms\":1500}}").getBytes(StandardCharsets.UTF_8), 0);
        assertThat(e.instance()).isEqualTo("host-1-ab12");
        assertThat(e.keyId()).isEqualTo("9f86d081884c");
        assertThat(e.retryAfterMs()).isEqualTo(1500L);
        assertThat(e.headroom()).isEqualTo(new Headroom(0L, null, 1500L));

        // a key rather than a fingerprint, a negative wait, a headroom of strings: dropped, the event still counts
        UsageEvent odd = UsageEvent.parse(("{\"task_id\":\"t\",\"cost_usd\":0.5,\"instance\":\"" + "x".repeat(500)
                + "\",\"key_id\":\"sk-live-secret\",\"retry_after_ms\":-5,\"headroom\":{\"requests\":\"many\"}}")
                .getBytes(StandardCharsets.UTF_8), 0);
        assertThat(odd.costUsd()).isEqualTo(0.5);
        assertThat(odd.instance()).isNull();
        assertThat(odd.keyId()).isNull();
        assertThat(odd.retryAfterMs()).isNull();
        assertThat(odd.headroom()).isNull();
    }
}
