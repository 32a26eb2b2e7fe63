package io.caravan.provider.azure;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.support.Upstreams;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Entra ID client credentials against a token endpoint on 127.0.0.1: fetched once, refreshed before expiry. */
class EntraTokensTest {

    static final String SECRET = "entra-client-secret-value-42";

    WireMockServer entra;
    final MutableClock clock = new MutableClock();

    @BeforeEach
    void start() {
        entra = Upstreams.start();
        entra.stubFor(post(urlEqualTo("/tenant-1/oauth2/v2.0/token")).inScenario("tokens")
                .whenScenarioStateIs(Scenario.STARTED).willSetStateTo("second")
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,\"access_token\":\"tok-1\"}")));
        entra.stubFor(post(urlEqualTo("/tenant-1/oauth2/v2.0/token")).inScenario("tokens")
                .whenScenarioStateIs("second")
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"tok-2\"}")));
        entra.stubFor(post(urlEqualTo("/bad-tenant/oauth2/v2.0/token"))
                .willReturn(aResponse().withStatus(401).withHeader("Content-Type", "application/json")
                        .withBody("{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret provided.\",\"error_codes\":[7000215]}")));
    }

    @AfterEach
    void stop() {
        entra.stop();
    }

    @Test
    void aTokenIsReusedUntilFiveMinutesBeforeItExpiresThenRefreshed() {
        EntraTokens tokens = new EntraTokens(clock);
        EntraTokens.Client client = new EntraTokens.Client("http://127.0.0.1:" + entra.port(), "tenant-1", "app-1",
                SECRET);
        assertThat(tokens.token(client)).isEqualTo("tok-1");
        clock.advance(Duration.ofMinutes(50));
        assertThat(tokens.token(client)).isEqualTo("tok-1");
        entra.verify(1, postRequestedFor(urlEqualTo("/tenant-1/oauth2/v2.0/token"))
                .withRequestBody(containing("grant_type=client_credentials"))
                .withRequestBody(containing("scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default")));
        clock.advance(Duration.ofMinutes(5)); // 55 min of a 60-min token: inside the margin
        assertThat(tokens.token(client)).isEqualTo("tok-2");
        entra.verify(2, postRequestedFor(urlEqualTo("/tenant-1/oauth2/v2.0/token")));
    }

    @Test
    void aRefusedClientIsAnAuthErrorThatNamesTheCodeNotTheSecret() {
        EntraTokens tokens = new EntraTokens(clock);
        EntraTokens.Client client = new EntraTokens.Client("http://127.0.0.1:" + entra.port(), "bad-tenant", "app-1",
                SECRET);
        assertThatThrownBy(() -> tokens.token(client)).isInstanceOfSatisfying(ProviderError.class, e -> {
            assertThat(e.errorClass()).isEqualTo(ErrorClass.AUTH);
            assertThat(e.getMessage()).contains("invalid_client").doesNotContain(SECRET);
        });
        assertThat(client.toString()).doesNotContain(SECRET);
    }

    static final class MutableClock extends Clock {
        private Instant now = Instant.parse("2026-11-29T00:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneId.of("UTC");
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }
    }
}
