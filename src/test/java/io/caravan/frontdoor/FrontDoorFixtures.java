package io.caravan.frontdoor;

import com.github.tomakehurst.wiremock.WireMockServer;

/** The catalog the front-door tests share: one OpenAI-compatible provider per behaviour, all on one WireMock. */
final class FrontDoorFixtures {

    static final String KEY = "cv-test-key-1";

    private FrontDoorFixtures() {}

    /**
     * Groups: gpt (ok), flaky (429, falls back to gpt), claude (Anthropic), gem (Gemini), bad (400), limited (429),
     * slow (500 after a delay), broken and hanging (a bare server that breaks, stalls or never answers; 1 s and 60 s
     * timeouts).
     */
    static String catalog(WireMockServer upstream) {
        return """
                providers:
                  oai:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/oai/v1
                    api_keys: ["sk-oai-test"]
                    retries: 0
                    timeout: 2s
                  limited:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/limited/v1
                    api_keys: ["sk-limited-test"]
                    retries: 0
                  bad:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/bad/v1
                    api_keys: ["sk-bad-test"]
                    retries: 0
                  slow:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/slow/v1
                    api_keys: ["sk-slow-test"]
                    retries: 0
                  broken:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/broken/v1
                    api_keys: ["sk-broken-test"]
                    retries: 0
                    timeout: 1s
                  hanging:
                    api: openai
                    base_url: http://127.0.0.1:%1$d/broken/v1
                    api_keys: ["sk-hanging-test"]
                    retries: 0
                    timeout: 60s
                  anthropic:
                    api: anthropic
                    base_url: http://127.0.0.1:%1$d/anthropic
                    api_keys: ["sk-ant-test"]
                    retries: 0
                    timeout: 2s
                  gemini:
                    api: gemini
                    base_url: http://127.0.0.1:%1$d/gemini
                    api_keys: ["AIza-test-key"]
                    retries: 0
                    timeout: 2s
                  sim:
                    api: simulated
                models:
                  - {name: gpt, provider: oai, model: gpt-4o-mini, price: {input: 0.15, cached_input: 0.075, output: 0.60}}
                  - {name: limited, provider: limited, model: gpt-4o, price: {input: 2.5, output: 10}}
                  - {name: flaky, provider: limited, model: gpt-4o, price: {input: 2.5, output: 10}}
                  - {name: bad, provider: bad, model: gpt-4o, price: {input: 2.5, output: 10}}
                  - {name: slow, provider: slow, model: gpt-4o, price: {input: 2.5, output: 10}}
                  - {name: slowfb, provider: slow, model: gpt-4o, price: {input: 2.5, output: 10}}
                  - {name: broken, provider: broken, model: gpt-4o-mini, price: {input: 0.15, output: 0.60}}
                  - {name: hanging, provider: hanging, model: gpt-4o-mini, price: {input: 0.15, output: 0.60}}
                  - {name: claude, provider: anthropic, model: claude-sonnet-4-5, max_output_tokens: 1024,
                     price: {input: 3.0, cached_input: 0.30, output: 15.0}}
                  - {name: claudefb, provider: anthropic, model: claude-sonnet-4-5, max_output_tokens: 1024,
                     price: {input: 3.0, cached_input: 0.30, output: 15.0}}
                  - {name: gem, provider: gemini, model: gemini-2.5-flash, price: {input: 0.30, output: 2.50}}
                  - {name: sim, provider: sim, model: sim-1, price: {input: 1.0, output: 1.0}}
                fallbacks:
                  flaky: [gpt]
                  slowfb: [gpt]
                  claudefb: [gpt]
                tiers:
                  fast: {model: gpt, max_score: 3.0}
                  smart: {model: claude}
                default_tier: fast
                """.formatted(upstream.port());
    }

    static String chunk(String delta, String finish) {
        return "data: {\"id\":\"up-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
                + "\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":"
                + (finish == null ? "null" : "\"" + finish + "\"") + "}]}\n\n";
    }

    /** An OpenAI SSE answer: the role, these text pieces, the finish, the usage chunk and [DONE]. */
    static String openAiStream(long prompt, long completion, String... pieces) {
        StringBuilder sb = new StringBuilder(chunk("{\"role\":\"assistant\",\"content\":\"\"}", null));
        for (String p : pieces) {
            sb.append(chunk("{\"content\":\"" + p + "\"}", null));
        }
        sb.append(chunk("{}", "stop"));
        sb.append("data: {\"id\":\"up-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
                + "\"choices\":[],\"usage\":{\"prompt_tokens\":" + prompt + ",\"completion_tokens\":" + completion
                + ",\"total_tokens\":" + (prompt + completion) + "}}\n\n");
        sb.append("data: [DONE]\n\n");
        return sb.toString();
    }
}
