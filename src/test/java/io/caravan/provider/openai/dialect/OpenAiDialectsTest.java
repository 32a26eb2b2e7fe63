package io.caravan.provider.openai.dialect;

import static io.caravan.provider.Fixtures.bytes;
import static io.caravan.provider.Fixtures.failure;
import static org.assertj.core.api.Assertions.assertThat;

import io.caravan.catalog.DeploymentSpec;
import io.caravan.catalog.Price;
import io.caravan.catalog.ProviderSpec;
import io.caravan.provider.Fixtures;
import io.caravan.provider.ProviderAdapter;
import io.caravan.provider.ProviderAdapters;
import io.caravan.provider.ProviderReply;
import io.caravan.provider.openai.OpenAiAdapter;
import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The vendors' own quirks, moved out of OpenAI's shared rule table into their dialects: a provider with
 * {@code api: openai} at a vendor's host speaks that vendor's dialect, and the vendor's error bodies are classified
 * by it.
 */
class OpenAiDialectsTest {

    private final DeploymentSpec model = Fixtures.deployment("p", "m", 8192, new Price(1, 0.1, 2));

    private static ProviderAdapter at(String baseUrl) {
        return ProviderAdapters.forProvider(Fixtures.provider("p", "openai", baseUrl));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
            "https://api.moonshot.ai/v1, moonshot",
            "https://api.moonshot.cn/v1, moonshot",
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1, dashscope",
            "https://api.deepseek.com/v1, deepseek",
            "https://api.openai.com/v1, openai",
            "http://127.0.0.1:8000/v1, openai"})
    void apiOpenAiAtAVendorsHostSpeaksItsDialect(String baseUrl, String dialect) {
        assertThat(at(baseUrl).api()).isEqualTo(dialect);
    }

    @Test
    void theDialectSettingNamesOneForAnyHost() {
        ProviderSpec proxied = Fixtures.provider("p", "openai", "http://127.0.0.1:9/deepseek/v1", Map.of(),
                Map.of("dialect", "deepseek"));
        assertThat(ProviderAdapters.forProvider(proxied).api()).isEqualTo("deepseek");
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', textBlock = """
            429 | Moonshot quota     | https://api.moonshot.ai/v1 | {"error":{"message":"Your account org-x <ak-x> is suspended, please check your plan and billing details","type":"exceeded_current_quota_error"}} | QUOTA_EXHAUSTED
            429 | Moonshot rpm       | https://api.moonshot.ai/v1 | {"error":{"message":"Your account org-x request reached organization max RPM: 3, please try again after 1 seconds","type":"rate_limit_reached_error"}} | RATE_LIMITED
            429 | Moonshot overload  | https://api.moonshot.ai/v1 | {"error":{"message":"The engine is currently overloaded, please try again later","type":"engine_overloaded_error"}} | RATE_LIMITED
            401 | Moonshot bad key   | https://api.moonshot.ai/v1 | {"error":{"message":"Invalid Authentication","type":"invalid_authentication_error"}} | AUTH
            400 | Moonshot context   | https://api.moonshot.ai/v1 | {"error":{"message":"Invalid request: Your request exceeded model token limit: 8192","type":"invalid_request_error"}} | CONTEXT_WINDOW
            429 | DashScope rpm      | https://dashscope-intl.aliyuncs.com/compatible-mode/v1 | {"error":{"message":"Requests rate limit exceeded, please try again later.","type":"limit_requests","code":"Throttling.RateQuota"}} | RATE_LIMITED
            429 | DashScope tpm      | https://dashscope-intl.aliyuncs.com/compatible-mode/v1 | {"error":{"message":"Allocated quota exceeded, please increase your quota limit.","type":"Throttling.AllocationQuota","code":"Throttling.AllocationQuota"}} | RATE_LIMITED
            400 | DashScope arrears  | https://dashscope-intl.aliyuncs.com/compatible-mode/v1 | {"error":{"message":"Access denied, please make sure your account is in good standing.","type":"Arrearage","code":"Arrearage"}} | QUOTA_EXHAUSTED
            400 | Qwen context       | https://dashscope-intl.aliyuncs.com/compatible-mode/v1 | {"error":{"message":"<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 30720]","type":"invalid_request_error","param":null,"code":"invalid_parameter_error"}} | CONTEXT_WINDOW
            402 | DeepSeek balance   | https://api.deepseek.com/v1 | {"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}} | QUOTA_EXHAUSTED
            400 | DeepSeek balance 400 | https://api.deepseek.com/v1 | {"error":{"message":"Insufficient Balance","type":"unknown_error"}} | QUOTA_EXHAUSTED
            """)
    void classifiesEachVendorsErrorsInItsDialect(int status, String what, String baseUrl, String body,
            ErrorClass expected) {
        ProviderError e = failure(at(baseUrl), status, Map.of(), body, model);
        assertThat(e.errorClass()).as(what).isEqualTo(expected);
    }

    @Test
    void theGenericAdapterNoLongerKnowsTheVendorsCodes() {
        ProviderError e = failure(new OpenAiAdapter(), 400, Map.of(),
                "{\"error\":{\"message\":\"Access denied, please make sure your account is in good standing.\",\"code\":\"Arrearage\"}}",
                model);
        assertThat(e.errorClass()).isEqualTo(ErrorClass.BAD_REQUEST);
    }

    @Test
    void moonshotCachedTokens() {
        ProviderReply reply = at("https://api.moonshot.ai/v1").readResponse(200, Map.of(), bytes("""
                {"id":"cmpl-1","object":"chat.completion","model":"kimi-k2-0905-preview",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":1000,"completion_tokens":10,"total_tokens":1010,"cached_tokens":800}}"""), model);
        assertThat(reply.usage().cachedInput()).isEqualTo(800);
        assertThat(reply.usage().input()).isEqualTo(1000);
    }

    @Test
    void deepSeekCacheHits() {
        ProviderReply reply = at("https://api.deepseek.com/v1").readResponse(200, Map.of(), bytes("""
                {"choices":[{"index":0,"message":{"role":"assistant","content":"ok","reasoning_content":"hmm"},
                  "finish_reason":"length"}],
                 "usage":{"prompt_tokens":300,"completion_tokens":5,"total_tokens":305,
                          "prompt_cache_hit_tokens":256,"prompt_cache_miss_tokens":44}}"""), model);
        assertThat(reply.usage().cachedInput()).isEqualTo(256);
        assertThat(reply.finishReason()).isEqualTo("length");
        assertThat(reply.message().get("reasoning_content").asText()).isEqualTo("hmm");
    }
}
