package io.caravan.task;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.resilience.ErrorClass;
import org.junit.jupiter.api.Test;

/** Outcomes read back from usage events: every wire name Caravan writes is read as the same outcome. */
class OutcomeTest {

    @Test
    void everyWireNameReadsBackAsItsOutcome() {
        for (Outcome o : new Outcome[] {Outcome.OK, Outcome.WAITED, Outcome.ESCALATED, Outcome.CACHE_HIT}) {
            assertThat(Outcome.fromWireName(o.wireName())).isSameAs(o);
        }
        for (ErrorClass c : ErrorClass.values()) {
            assertThat(Outcome.fromWireName(c.wireName())).isSameAs(Outcome.failed(c));
        }
        assertThat(Outcome.fromWireName("from_a_newer_version")).isNull();
        assertThat(Outcome.fromWireName(null)).isNull();
    }
}
