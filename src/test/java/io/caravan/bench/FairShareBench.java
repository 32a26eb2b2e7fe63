package io.caravan.bench;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.support.Caravan;
import io.caravan.tenants.FairShareTest;
import java.util.Map;

/**
 * Tenant B's wait behind tenant A's flood, with and without fair share (FairShareTest's run: acme floods 1,000
 * Kafka tasks at a provider of 20 calls a second, then globex sends 20 over HTTP). bench/tenants.sh fair runs it;
 * the figures are in docs/tenants.md.
 */
public final class FairShareBench {

    public static void main(String[] args) {
        try {
            run();
        } catch (Throwable e) {
            // the test broker's threads are not daemons: a failed round must still end the bench
            e.printStackTrace();
            System.exit(1);
        }
        System.exit(0);
    }

    private static void run() throws Exception {
        int rounds = Integer.getInteger("bench.rounds", 2);
        for (int round = 1; round <= rounds; round++) {
            for (boolean fair : new boolean[] {true, false}) {
                WireMockServer upstream = FairShareTest.upstream();
                try (Caravan caravan = Caravan.start(FairShareTest.catalog(upstream), Map.of(),
                        FairShareTest.settings(fair))) {
                    FairShareTest.Run run = FairShareTest.floodThenInteractive(caravan, upstream, 1000, 20);
                    System.out.printf("round %d fair-share=%s: B's 20 calls p50 %d ms, max %d ms; A's calls meanwhile %d%n",
                            round, fair, run.p50(), run.max(), run.floodCallsMeanwhile());
                } finally {
                    upstream.stop();
                }
            }
        }
    }
}
