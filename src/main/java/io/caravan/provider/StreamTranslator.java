package io.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * One provider's event stream translated to OpenAI deltas; each streaming adapter has its own, in its own package.
 * An error event is thrown as a classified {@link io.caravan.resilience.ProviderError}.
 */
public interface StreamTranslator {

    /** Translates one event; the deltas it yields (zero or more) go to {@code out}. */
    void onEvent(SseEvent event, List<StreamDelta> out);

    /** The terminal event arrived (OpenAI {@code [DONE]}, Anthropic {@code message_stop}): nothing more is read. */
    boolean finished();

    /** Whether the answer is complete if the stream ends now (Gemini has no terminal event: a finish reason is its end). */
    default boolean completeAtEnd() {
        return finished();
    }

    /** The usage reported so far. */
    TokenUsage usage();

    /** An event's data, which must be a JSON object; anything else is a malformed answer of {@code api}. */
    static JsonNode jsonObject(byte[] data, String api) {
        JsonNode node = AdapterSupport.parseOrNull(data);
        if (node == null || !node.isObject()) {
            throw AdapterSupport.malformed(200, api, "a stream event that is not a JSON object");
        }
        return node;
    }
}
