package io.caravan.tenants;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.caravan.cli.KeysCommand;

/** A catalog with tenants over one OpenAI-compatible WireMock provider; each call costs 5 USD (5 output tokens). */
final class TenantFixtures {

    static final String ACME_KEY = "cvk-acme-0123456789abcdef0123456789";
    static final String GLOBEX_KEY = "cvk-globex-0123456789abcdef01234567";
    static final String ENV_KEY = "cvk-from-env-0123456789abcdef012345";

    private TenantFixtures() {}

    /** {@code acmeExtra} and {@code globexExtra} are more fields of each tenant (YAML, indented here). */
    static String catalog(WireMockServer upstream, String acmeExtra, String globexExtra) {
        return """
                providers:
                  oai:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/oai/v1
                    api_keys: ["sk-upstream-test"]
                    retries: 0
                    timeout: 10s
                models:
                  - {name: cheap, provider: oai, model: gpt-cheap, price: {input: 0, output: 1000000}}
                  - {name: dear, provider: oai, model: gpt-dear, price: {input: 0, output: 1000000}}
                tiers:
                  fast: {model: cheap, max_score: 5}
                  premium: {model: dear}
                default_tier: fast
                tenants:
                  acme:
                    api_keys: ["%2$s", "${ACME_ENV_KEY}"]
                    allow: {tiers: [fast]}
                %3$s
                  globex:
                    api_keys: ["%4$s"]
                %5$s
                """.formatted(upstream.port(), KeysCommand.hashLine(ACME_KEY), indent(acmeExtra),
                KeysCommand.hashLine(GLOBEX_KEY), indent(globexExtra));
    }

    private static String indent(String yaml) {
        return yaml == null ? "" : yaml.indent(4).stripTrailing();
    }
}
