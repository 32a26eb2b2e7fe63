package io.caravan.tracing;

import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.ProviderReply;
import io.caravan.task.Attempt;
import io.caravan.task.Outcome;
import io.caravan.task.TaskContext;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One provider attempt as the OpenTelemetry GenAI conventions see it (a {@code chat} operation): the values both
 * its span and the {@code gen_ai.client.*} metrics carry, worked out once from the attempt, the catalog and the
 * answer. {@code errorType} is Caravan's error class (null when the attempt answered); {@code reply} and
 * {@code timeToFirstChunk} only for the attempt that answered (the latter only when it streamed).
 */
record GenAiCall(
        Attempt attempt,
        String providerName,
        String requestModel,
        String responseModel,
        String serverAddress,
        int serverPort,
        String errorType,
        Instant start,
        Instant end,
        ProviderReply reply,
        Duration timeToFirstChunk) {

    static final String OPERATION = "chat";
    /** Attempts that were no provider call: a wait for capacity, an answer from the cache, a hand-over to a higher tier. */
    private static final Set<Outcome> NOT_CALLS = Set.of(Outcome.WAITED, Outcome.CACHE_HIT, Outcome.ESCALATED);

    /**
     * The call an attempt made, or null when it made none (see {@link #NOT_CALLS}, and a deployment skipped
     * before any call).
     */
    static GenAiCall of(TaskContext ctx, Attempt attempt) {
        if (NOT_CALLS.contains(attempt.outcome()) || attempt.skipped()) {
            return null;
        }
        Server server = server(attempt.provider(), ctx.catalog().provider(attempt.provider()));
        boolean answered = attempt.ok() && ctx.answeredBy() != null
                && ctx.answeredBy().deployment().id().equals(attempt.deployment()) && isLastOk(ctx, attempt);
        ProviderReply reply = answered ? ctx.reply() : null;
        Instant end = attempt.ts();
        Instant start = end.minusMillis(attempt.latencyMs());
        Duration ttfc = answered && ctx.firstChunkAt() != null && ctx.firstChunkAt().isAfter(start)
                ? Duration.between(start, ctx.firstChunkAt()) : null;
        String responseModel = reply != null && reply.responseModel() != null ? reply.responseModel()
                : attempt.ok() ? attempt.providerModel() : null;
        return new GenAiCall(attempt, server.providerName(), attempt.providerModel(), responseModel, server.host(),
                server.port(),
                attempt.ok() ? null : attempt.outcome().wireName(), start, end, reply, ttfc);
    }

    /** A provider's server as spans and metrics name it: parsed once per provider, not per call. */
    private record Server(String providerName, String host, int port) {}

    private record ServerKey(String name, String api, String baseUrl) {}

    /** Keyed by what the catalog says (a reloaded catalog adds keys): cleared past a size no catalog reaches. */
    private static final Map<ServerKey, Server> SERVERS = new ConcurrentHashMap<>();
    private static final int MAX_SERVERS = 1024;

    private static Server server(String name, ProviderSpec provider) {
        ServerKey key = new ServerKey(name, provider == null ? null : provider.api(),
                provider == null ? null : provider.baseUrl());
        Server server = SERVERS.get(key);
        if (server == null) {
            URI base = baseUri(provider);
            server = new Server(providerName(name, provider, base), base == null ? null : base.getHost(), port(base));
            if (SERVERS.size() >= MAX_SERVERS) {
                SERVERS.clear();
            }
            SERVERS.put(key, server);
        }
        return server;
    }

    private static boolean isLastOk(TaskContext ctx, Attempt attempt) {
        List<Attempt> attempts = ctx.attempts(); // a snapshot
        for (int i = attempts.size() - 1; i >= 0; i--) {
            Attempt a = attempts.get(i);
            if (a.ok()) {
                return a == attempt;
            }
        }
        return false;
    }

    /**
     * The convention's well-known names where one fits (openai, anthropic, gcp.gemini, gcp.vertex_ai, aws.bedrock,
     * azure.ai.openai, deepseek), by the provider's api and host; the catalog's provider name otherwise.
     */
    static String providerName(String name, ProviderSpec provider, URI base) {
        String api = provider == null || provider.api() == null ? "" : provider.api().toLowerCase(Locale.ROOT);
        String host = base == null || base.getHost() == null ? "" : base.getHost().toLowerCase(Locale.ROOT);
        if (host.endsWith("aiplatform.googleapis.com") || api.startsWith("vertex")) {
            return "gcp.vertex_ai";
        }
        if (host.contains("bedrock") || api.equals("bedrock")) {
            return "aws.bedrock";
        }
        if (host.endsWith("openai.azure.com") || api.startsWith("azure")) {
            return "azure.ai.openai";
        }
        if (api.equals("anthropic") || host.equals("api.anthropic.com")) {
            return "anthropic";
        }
        if (api.equals("gemini") || host.equals("generativelanguage.googleapis.com")) {
            return "gcp.gemini";
        }
        if (host.equals("api.openai.com")) {
            return "openai";
        }
        if (host.endsWith("deepseek.com")) {
            return "deepseek";
        }
        return name;
    }

    static URI baseUri(ProviderSpec provider) {
        if (provider == null || provider.baseUrl() == null) {
            return null;
        }
        try {
            URI uri = URI.create(provider.baseUrl());
            return uri.getHost() == null ? null : uri;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static int port(URI base) {
        if (base == null) {
            return -1;
        }
        return base.getPort() > 0 ? base.getPort() : "http".equalsIgnoreCase(base.getScheme()) ? 80 : 443;
    }

    double durationSeconds() {
        return attempt.latencyMs() / 1000.0;
    }
}
