package io.caravan.resilience;

import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.catalog.CircuitBreakerSpec;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.resilience.ErrorPolicy.KeyCooldown;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** The decision table of the error classes, row by row: what the contract and the docs promise of each class. */
class ErrorPolicyTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            # class           | retry | nextKey | fallsBack | breaker | cooldown    | wait  | retryAfter | status | openAiType
            RATE_LIMITED       | true  | false   | true      | false   | SERVER_WAIT | true  | true       | 429    | rate_limit_error
            QUOTA_EXHAUSTED    | false | true    | true      | false   | CONFIGURED  | true  | false      | 402    | insufficient_quota
            AUTH               | false | true    | true      | false   | CONFIGURED  | true  | false      | 401    | authentication_error
            TIMEOUT            | true  | false   | true      | true    | NONE        | false | true       | 504    | timeout_error
            SERVER_ERROR       | true  | false   | true      | true    | NONE        | false | true       | 503    | server_error
            CONNECTION         | true  | false   | true      | true    | NONE        | false | true       | 503    | server_error
            RESPONSE_TOO_LARGE | false | false   | true      | true    | NONE        | false | false      | 503    | server_error
            MODEL_NOT_FOUND    | false | false   | true      | false   | NONE        | false | false      | 404    | server_error
            CIRCUIT_OPEN       | false | false   | true      | false   | NONE        | true  | false      | 503    | server_error
            CONTEXT_WINDOW     | false | false   | false     | false   | NONE        | false | false      | 400    | invalid_request_error
            BAD_REQUEST        | false | false   | false     | false   | NONE        | false | false      | 400    | invalid_request_error
            CANCELLED          | false | false   | false     | false   | NONE        | false | false      | 499    | cancelled
            INVALID_TASK       | false | false   | false     | false   | NONE        | false | false      | 400    | invalid_request_error
            BUDGET_EXCEEDED    | false | false   | false     | false   | NONE        | false | false      | 402    | insufficient_quota
            EXHAUSTED          | false | false   | false     | false   | NONE        | false | false      | 503    | server_error
            RESULT_TOO_LARGE   | false | false   | false     | false   | NONE        | false | false      | 500    | server_error
            """)
    void eachClassHasItsRow(ErrorClass c, boolean retry, boolean nextKey, boolean fallsBack, boolean breaker,
            KeyCooldown cooldown, boolean wait, boolean retryAfter, int status, String openAiType) {
        assertThat(c.policy()).isEqualTo(
                new ErrorPolicy(retry, nextKey, fallsBack, breaker, cooldown, wait, retryAfter, status, openAiType));
        assertThat(c.retriable()).isEqualTo(retry);
        assertThat(c.keyFault()).isEqualTo(nextKey);
        assertThat(c.fallsBack()).isEqualTo(fallsBack);
    }

    @ParameterizedTest
    @EnumSource(ErrorClass.class)
    void everyClassHasARowAndItsWireNameReadsBack(ErrorClass c) {
        assertThat(ErrorPolicy.of(c)).isNotNull();
        assertThat(ErrorClass.fromWireName(c.wireName())).isSameAs(c);
    }

    @ParameterizedTest
    @EnumSource(value = ErrorClass.class, names = {"RATE_LIMITED", "CONTEXT_WINDOW"})
    void aDeploymentPassedOverWithoutACallSaysNothingOfIt(ErrorClass c) {
        ProviderError skipped = ProviderError.skipped(c, "every key is cooling down", Duration.ofSeconds(1));
        ProviderError answered = new ProviderError(c, 429, "slow down");

        assertThat(skipped.skippedWithoutCall()).isTrue();
        assertThat(Breakers.saysNothingOfDeployment(skipped)).isTrue();
        assertThat(Breakers.countsAgainstDeployment(skipped)).isFalse();
        assertThat(answered.skippedWithoutCall()).isFalse();
        assertThat(Breakers.countsAgainstDeployment(answered)).isEqualTo(c.policy().countsAgainstBreaker());
    }

    @Test
    void rateLimitAnswersLeaveTheBreakerClosedWhereServerErrorsOpenIt() {
        Breakers breakers = new Breakers();
        CircuitBreaker limited = breakers.forDeployment(
                new DeploymentSpec("limited#0", "limited", "p", "m", null, null, null, 1), CircuitBreakerSpec.DEFAULT);
        CircuitBreaker failing = breakers.forDeployment(
                new DeploymentSpec("failing#0", "failing", "p", "m", null, null, null, 1), CircuitBreakerSpec.DEFAULT);
        for (int i = 0; i < 2 * CircuitBreakerSpec.DEFAULT.minimumCalls(); i++) {
            limited.onError(5, TimeUnit.MILLISECONDS, new ProviderError(ErrorClass.RATE_LIMITED, 429, "slow down",
                    Duration.ofSeconds(1)));
            failing.onError(5, TimeUnit.MILLISECONDS, new ProviderError(ErrorClass.SERVER_ERROR, 503, "overloaded"));
        }
        // a 429 is the key's pacing: neither a failure nor a success of the deployment
        assertThat(limited.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(limited.getMetrics().getNumberOfBufferedCalls()).isZero();
        assertThat(breakers.untilCallable("limited#0")).isZero();
        assertThat(failing.getState()).isEqualTo(CircuitBreaker.State.OPEN);
    }
}
