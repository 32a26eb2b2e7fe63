package io.caravan.task;

import io.caravan.resilience.ErrorClass;

/** Why a task ended in error: the contract's {@code error} object. */
public record TaskError(ErrorClass type, String message) {}
