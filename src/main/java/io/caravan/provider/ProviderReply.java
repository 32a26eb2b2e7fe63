package io.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A successful provider answer in OpenAI's shape: {@code message} is an assistant message
 * ({@code role}, {@code content}, and {@code tool_calls} when the model called tools).
 */
public record ProviderReply(ObjectNode message, String finishReason, TokenUsage usage) {}
