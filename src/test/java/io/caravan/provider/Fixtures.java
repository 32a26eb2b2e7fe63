package io.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** Shared test data for the adapter tests. */
public final class Fixtures {

    public static final String KEY = "sk-TEST-secret-key-0123456789";

    private Fixtures() {}

    public static ProviderSpec provider(String name, String api, String baseUrl) {
        return provider(name, api, baseUrl, Map.of(), Map.of());
    }

    public static ProviderSpec provider(String name, String api, String baseUrl, Map<String, String> headers,
            Map<String, Object> settings) {
        return new ProviderSpec(name, api, baseUrl, List.of(KEY), headers, ProviderSpec.DEFAULT_TIMEOUT,
                ProviderSpec.DEFAULT_RETRIES, ProviderSpec.DEFAULT_BACKOFF, null, null, settings);
    }

    public static DeploymentSpec deployment(String provider, String model, Integer maxOutput, Price price) {
        return new DeploymentSpec(model + "#0", model, provider, model, 128000, maxOutput, price, 1);
    }

    public static JsonNode json(String text) {
        try {
            return Json.MAPPER.readTree(text);
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    public static JsonNode json(byte[] bytes) {
        try {
            return Json.MAPPER.readTree(bytes);
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    public static ChatRequest request(String messagesJson, String paramsJson) {
        return new ChatRequest((ArrayNode) json(messagesJson), paramsJson == null ? Json.object() : (ObjectNode) json(paramsJson));
    }

    public static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Runs readResponse expecting a ProviderError and returns it. */
    public static ProviderError failure(ProviderAdapter adapter, int status, Map<String, Object> headers, String body,
            DeploymentSpec deployment) {
        try {
            adapter.readResponse(status, headers, bytes(body), deployment);
        } catch (ProviderError e) {
            return e;
        }
        throw new AssertionError("expected a ProviderError for status " + status);
    }
}
