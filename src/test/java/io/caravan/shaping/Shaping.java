package io.caravan.shaping;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.caravan.support.Caravan;
import io.caravan.support.Upstreams;
import io.caravan.util.Json;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

/** Helpers shared by the traffic-shaping tests: one WireMock path prefix per provider, tasks over HTTP. */
final class Shaping {

    private Shaping() {}

    static String path(String provider) {
        return "/" + provider + "/v1/chat/completions";
    }

    static ResponseDefinitionBuilder ok(String content, long prompt, long completion) {
        return aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                .withBody(Upstreams.completion(content, prompt, 0, completion));
    }

    static String provider(WireMockServer upstream, String name, String keys, String extra) {
        return """
                  %1$s:
                    api: openai
                    base_url: http://127.0.0.1:%2$d/%1$s/v1
                    api_keys: [%3$s]
                    timeout: 5s
                    retries: 0
                    backoff: 50ms
                """.formatted(name, upstream.port(), keys)
                + (extra == null || extra.isBlank() ? "" : extra.indent(4));
    }

    static JsonNode task(Caravan caravan, String body) throws Exception {
        HttpResponse<String> response = caravan.post("/v1/tasks", body);
        return Json.MAPPER.readTree(response.body());
    }

    static JsonNode okTask(Caravan caravan, String body) throws Exception {
        JsonNode result = task(caravan, body);
        assertThat(result.path("status").asText()).as(result.toString()).isEqualTo("ok");
        return result;
    }

    static List<LoggedRequest> received(WireMockServer upstream, String provider) {
        return upstream.findAll(postRequestedFor(urlEqualTo(path(provider))));
    }

    /** "deployment outcome" for each attempt. */
    static List<String> outcomes(JsonNode result) {
        List<String> out = new ArrayList<>();
        result.path("attempts").forEach(a -> out.add(a.path("deployment").asText() + " " + a.path("outcome").asText()));
        return out;
    }
}
