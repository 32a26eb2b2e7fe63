package io.caravan.util;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** What the one redaction step takes out of text, and the ordinary text it leaves alone. */
class RedactionTest {

    private final Object owner = new Object();

    @AfterEach
    void forget() {
        Redaction.track(owner, List.of());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "openai project key   | sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34",
        "anthropic key        | sk-ant-api03-abcdefghijklmnop_qrstuv-wxyz0123",
        "groq key             | gsk_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa1234567890abcd",
        "xai key              | xai-Q1w2E3r4T5y6U7i8O9p0AaSsDdFfGgHhJjKkLlZzXxCcVvBbNnMm",
        "google key           | AIzaSyA-1234567890abcdefghijklmnop",
        "64 hex               | 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "32 hex (azure)       | 0123456789ABCDEF0123456789abcdef",
        "base64 with padding  | dGhpcyBpcyBhIHNlY3JldCBrZXkgZm9yIGNhcmF2YW4xMjM0NQ==",
        "base64 with slashes  | Zm9v/YmFy+YmF6Q29NbW9u/c2VjcmV0S2V5MjAyNA=",
    })
    void keyShapedTokensGoWithoutBeingKnown(String shape, String key) {
        for (String text : List.of("Incorrect API key provided: " + key + ".",
                "{\"key\":\"" + key + "\"}", "Authorization: Bearer " + key, key)) {
            String redacted = Redaction.redact(text);
            assertThat(redacted).as(text).doesNotContain(key).contains(Redaction.MASK);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "request req_0123456789abcdef0123456789abcdef failed",           // OpenAI request id: hex glued to req_
        "id chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",                    // completion id glued to its prefix
        "msg_01XFDUDYJgAACzvnptvVoYEL and req_011CSHoEeqs5C35K2UUqR7Fy", // Anthropic ids
        "task 3f2b8c1e-9d4a-4e6f-8b2a-1c3d5e7f9a0b is unknown",          // UUIDs
        "task-1234567 and mask-abcdef01 and desk-0123456789",          // sk- inside a word is no key
        "Bearer authentication required; use Basic auth or Bearer Token",
        "models/gemini-2.0-flash is not found for API version v1beta, or is not supported for generateContent",
        "This model's maximum context length is 128000 tokens. However, you requested 130000 tokens",
        "/v1/projects/my-project/locations/us-central1/publishers/google/models",
        "internationalizationcharacteristicsofthealphabet",              // a long word has no digits nor capitals
    })
    void ordinaryTextStays(String text) {
        assertThat(Redaction.redact(text)).isEqualTo(text);
    }

    @Test
    void everyTrackedSecretGoesWhateverItLooksLike() {
        String plain = "purple.monkey.dishwasher";
        String tiny = "k9";
        Redaction.track(owner, List.of(plain, tiny, "a/b+c=" + plain));
        assertThat(Redaction.redact("invalid key purple.monkey.dishwasher!")).isEqualTo("invalid key [redacted]!");
        // JSON-escaped and URL-encoded echoes of a key with / + =
        assertThat(Redaction.redact("\"a\\/b+c=purple.monkey.dishwasher\"")).isEqualTo("\"[redacted]\"");
        assertThat(Redaction.redact("?k=a%2Fb%2Bc%3Dpurple.monkey.dishwasher&x=1")).isEqualTo("?k=[redacted]&x=1");
        // a short key only where it stands alone: it does not eat words that contain it
        assertThat(Redaction.redact("key k9 rejected (k95, ak9)")).isEqualTo("key [redacted] rejected (k95, ak9)");
    }

    @Test
    void overlappingSecretsAreMaskedAsOne() {
        Redaction.track(owner, List.of("alpha.beta.gamma", "gamma.delta.epsilon", "beta.gam"));
        assertThat(Redaction.redact("x alpha.beta.gamma.delta.epsilon y alpha.beta.gammaalpha.beta.gamma z"))
                .isEqualTo("x [redacted] y [redacted] z");
        assertThat(Redaction.redact("beta.gamma.delta")).isEqualTo("[redacted]ma.delta");
    }

    @Test
    void trackingFollowsTheOwnersLatestSecrets() {
        Redaction.track(owner, List.of("old-plain-secret"));
        assertThat(Redaction.redact("old-plain-secret")).isEqualTo(Redaction.MASK);
        Redaction.track(owner, List.of("new-plain-secret"));
        assertThat(Redaction.redact("old-plain-secret")).isEqualTo("old-plain-secret");
        assertThat(Redaction.redact("new-plain-secret")).isEqualTo(Redaction.MASK);
    }

    @Test
    void urlCredentialsAreMasked() {
        assertThat(Redaction.maskUrls("https://user:SECRET@host.example/v1"))
                .isEqualTo("https://user:***@host.example/v1");
        assertThat(Redaction.maskUrls("https://SECRET@host.example/v1")).isEqualTo("https://***@host.example/v1");
        assertThat(Redaction.maskUrls("got 'ftp://h/v1?api-key=SECRET&x=1&key=SECRET2&access_token=SECRET3'"))
                .isEqualTo("got 'ftp://h/v1?api-key=***&x=1&key=***&access_token=***'");
        assertThat(Redaction.maskUrls("https://h/v1?model=m&version=2")).isEqualTo("https://h/v1?model=m&version=2");
        assertThat(Redaction.secretsOfUrl("https://u:p%2Bw@h/v1?key=a%2Bb&x=1"))
                .contains("p%2Bw", "p+w", "a%2Bb", "a+b");
    }
}
