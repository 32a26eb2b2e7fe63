package io.caravan.provider.simulated;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.ChatRequest;
import io.caravan.provider.ErrorRule;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.TokenUsage;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import io.caravan.util.Json;
import java.io.IOException;
import java.util.Map;

/**
 * {@code api: simulated}: a built-in provider for demos and tests, answered in-process by
 * {@link SimulatedUpstream}. Settings from the catalog entry: {@code latency} (e.g. {@code 200ms}),
 * {@code error_rate} (0..1, that share of calls fails, spread evenly) and {@code error_status} (default 503).
 */
public final class SimulatedAdapter implements ProviderAdapter {

    @Override
    public String api() {
        return "simulated";
    }

    @Override
    public String endpoint(ProviderSpec provider, DeploymentSpec deployment) {
        return "bean:" + SimulatedUpstream.BEAN + "?method=answer";
    }

    @Override
    public Map<String, String> requestHeaders(ProviderSpec provider, String apiKey) {
        return Map.of("Content-Type", "application/json");
    }

    /** Answered in-process: no keys, no base URL. */
    @Override
    public Credentials credentials(ProviderSpec provider) {
        return Credentials.NONE;
    }

    @Override
    public boolean requiresBaseUrl(ProviderSpec provider) {
        return false;
    }

    @Override
    public byte[] requestBody(ChatRequest request, ProviderSpec provider, DeploymentSpec deployment) {
        ObjectNode body = Json.object();
        body.put("provider", provider.name());
        body.put("model", deployment.model());
        body.set("messages", request.messages());
        body.put("latency", provider.setting("latency", "0ms"));
        body.put("error_rate", Double.parseDouble(provider.setting("error_rate", "0")));
        body.put("error_status", Integer.parseInt(provider.setting("error_status", "503")));
        if (request.params().has("max_tokens")) {
            body.set("max_tokens", request.params().get("max_tokens"));
        }
        return Json.bytes(body);
    }

    @Override
    public ProviderReply readResponse(int status, Map<String, Object> headers, byte[] body, DeploymentSpec deployment) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(body);
        } catch (IOException e) {
            throw new ProviderError(ErrorClass.SERVER_ERROR, status, "malformed simulated response");
        }
        if (status != 200) {
            throw new ProviderError(ErrorRule.byStatus(status), status, "simulated " + status + ": " + root.path("error").asText());
        }
        ObjectNode message = Json.object().put("role", "assistant").put("content", root.path("text").asText());
        TokenUsage usage = new TokenUsage(root.path("input_tokens").asLong(), 0, root.path("output_tokens").asLong());
        return new ProviderReply(message, "stop", usage);
    }


    @Override
    public boolean streams() {
        return true;
    }

    /** The simulated answer in a few pieces: the text in about four chunks (the role on the first), then the finish. */
    @Override
    public io.caravan.provider.ProviderStream openStream(java.io.InputStream body, Map<String, Object> headers,
            DeploymentSpec deployment, Runnable abort) {
        ProviderReply reply;
        try (body) {
            reply = readResponse(200, headers, body.readAllBytes(), deployment);
        } catch (IOException e) {
            throw new ProviderError(ErrorClass.CONNECTION, null, "simulated stream unreadable: " + e.getMessage());
        }
        java.util.Deque<io.caravan.provider.StreamDelta> deltas = new java.util.ArrayDeque<>();
        String text = reply.message().path("content").asText("");
        int step = Math.max(1, (text.length() + 3) / 4);
        for (int i = 0; i < text.length(); i += step) {
            ObjectNode delta = i == 0 ? Json.object().put("role", "assistant") : Json.object();
            deltas.add(new io.caravan.provider.StreamDelta(
                    delta.put("content", text.substring(i, Math.min(text.length(), i + step))), null));
        }
        deltas.add(new io.caravan.provider.StreamDelta(
                text.isEmpty() ? Json.object().put("role", "assistant") : Json.object(), "stop"));
        TokenUsage usage = reply.usage();
        return new io.caravan.provider.ProviderStream() {
            @Override
            protected io.caravan.provider.StreamDelta read() {
                return deltas.poll();
            }

            @Override
            public TokenUsage usage() {
                return usage;
            }

            @Override
            public void abort() {
                deltas.clear();
            }
        };
    }
}
