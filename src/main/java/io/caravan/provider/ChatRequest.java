package io.caravan.provider;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What every adapter translates: OpenAI-style {@code messages} and {@code params} ({@code max_tokens},
 * {@code temperature}, {@code top_p}, {@code stop}, {@code response_format}, {@code tools}, {@code tool_choice}).
 * Adapters must not modify these nodes; they are shared across attempts.
 */
public record ChatRequest(ArrayNode messages, ObjectNode params) {}
