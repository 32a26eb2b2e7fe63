package io.caravan.support;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.client.WireMock;

/** WireMock servers on loopback that answer like OpenAI-compatible APIs. */
public final class Upstreams {

    private Upstreams() {}

    public static WireMockServer start() {
        WireMockServer server = new WireMockServer(options().bindAddress("127.0.0.1").dynamicPort()
                .containerThreads(32).jettyIdleTimeout(5_000L));
        server.start();
        return server;
    }

    /** The chat-completions path of a provider mounted at {@code /NAME/v1} on a shared WireMock server. */
    public static String path(String provider) {
        return "/" + provider + "/v1/chat/completions";
    }

    /** A 200 chat.completion answer with this text (10 prompt tokens, 5 completion tokens). */
    public static ResponseDefinitionBuilder ok(String content) {
        return WireMock.aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                .withBody(completion(content, 10, 0, 5));
    }

    /** A JSON answer with this status and body. */
    public static ResponseDefinitionBuilder status(int status, String body) {
        return WireMock.aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body);
    }

    /** An OpenAI chat.completion body with these usage numbers. */
    public static String completion(String content, long prompt, long cached, long completion) {
        return """
                {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"%s"},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,
                          "prompt_tokens_details":{"cached_tokens":%d}}}
                """.formatted(content, prompt, completion, prompt + completion, cached);
    }

    public static String error(String message, String type, String code) {
        return """
                {"error":{"message":"%s","type":"%s","param":null,"code":%s}}
                """.formatted(message, type, code == null ? "null" : "\"" + code + "\"");
    }
}
