package io.caravan.batch;

import io.caravan.provider.BatchAdapter;
import io.caravan.provider.openai.OpenAiBatchAdapter;
import java.util.Map;

/** The batch adapters, by the {@code api} of the online adapter they stand beside. */
public final class BatchAdapters {

    /** The longest result row read (one answer of a results file). */
    static final int MAX_ROW_BYTES = 16 * 1024 * 1024;

    private static final Map<String, BatchAdapter> BY_API = Map.of(
            "openai", new OpenAiBatchAdapter(MAX_ROW_BYTES),
            "anthropic", new io.caravan.provider.anthropic.AnthropicBatchAdapter(MAX_ROW_BYTES),
            "gemini", new io.caravan.provider.gemini.GeminiBatchAdapter());

    private BatchAdapters() {}

    public static boolean supports(String api) {
        return BY_API.containsKey(api);
    }

    public static BatchAdapter forApi(String api) {
        BatchAdapter adapter = BY_API.get(api);
        if (adapter == null) {
            throw new IllegalArgumentException("no batch adapter for api '" + api + "'");
        }
        return adapter;
    }
}
