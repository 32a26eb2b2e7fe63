package io.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One piece of a streamed answer in OpenAI's chunk shape: {@code delta} is a {@code choices[0].delta}
 * ({@code role}, {@code content}, {@code tool_calls} with {@code index}), {@code finishReason} is set on the
 * piece that ends the choice. Either may be null.
 */
public record StreamDelta(ObjectNode delta, String finishReason) {}
