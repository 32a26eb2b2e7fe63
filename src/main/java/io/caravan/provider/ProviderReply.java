package io.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A successful provider answer in OpenAI's shape: {@code message} is an assistant message
 * ({@code role}, {@code content}, and {@code tool_calls} when the model called tools). {@code responseId} and
 * {@code responseModel} are what the provider named its answer and the model that wrote it, when it said (a trace
 * shows them); null otherwise.
 */
public record ProviderReply(ObjectNode message, String finishReason, TokenUsage usage, String responseId,
        String responseModel) {

    public ProviderReply(ObjectNode message, String finishReason, TokenUsage usage) {
        this(message, finishReason, usage, null, null);
    }
}
