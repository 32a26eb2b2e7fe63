package io.caravan.provider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The bounds on a provider's answer as its reader meets them. */
class BoundedResponseTest {

    static final ResponseLimits SMALL = new ResponseLimits(4096, 64, 256);

    static InputStream bytes(String text) {
        return new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aBodyUpToItsBoundIsReadWhole() throws IOException {
        String body = "x".repeat(4096);
        assertThat(BoundedResponse.body(bytes(body), SMALL, "answer", 200).readAllBytes()).hasSize(4096);
    }

    @Test
    void oneByteMoreIsResponseTooLargeWithItsStatus() {
        ProviderError e = catchThrowableOfType(ProviderError.class,
                () -> BoundedResponse.body(bytes("x".repeat(4097)), SMALL, "the answer of provider p", 200)
                        .readAllBytes());
        assertThat(e.errorClass()).isEqualTo(ErrorClass.RESPONSE_TOO_LARGE);
        assertThat(e.status()).isEqualTo(200);
        assertThat(e.getMessage()).isEqualTo("the answer of provider p passed its size bound of 4096 bytes");
    }

    @Test
    void eventsWithinTheBoundsAreReadWhateverTheirLineEndings() throws IOException {
        String line = "data: " + "y".repeat(58); // 64 bytes, the line bound
        String stream = line + "\n\n" + line + "\r\n\r\n" + line + "\r\r" + (line + "\n").repeat(3) + "\n";
        SseReader reader = new SseReader(BoundedResponse.sse(bytes(stream), SMALL, "stream", 200));
        int events = 0;
        while (reader.next() != null) {
            events++;
        }
        assertThat(events).isEqualTo(4);
    }

    @Test
    void aLineWithoutEndFailsAfterTheEventsBeforeIt() throws IOException {
        String stream = "data: first\n\n" + "data: " + "z".repeat(500);
        SseReader reader = new SseReader(BoundedResponse.sse(bytes(stream), SMALL, "the stream", 200));
        assertThat(reader.next().data()).isEqualTo("first");
        ProviderError e = catchThrowableOfType(ProviderError.class, reader::next);
        assertThat(e.errorClass()).isEqualTo(ErrorClass.RESPONSE_TOO_LARGE);
        assertThat(e.getMessage()).isEqualTo("the stream passed the SSE line bound of 64 bytes");
    }

    @Test
    void anEventWithoutItsBlankLineFails() {
        String stream = "data: 0123456789\n".repeat(100); // short lines, never a blank one
        SseReader reader = new SseReader(BoundedResponse.sse(bytes(stream), SMALL, "the stream", 200));
        ProviderError e = catchThrowableOfType(ProviderError.class, reader::next);
        assertThat(e.getMessage()).isEqualTo("the stream passed the SSE event bound of 256 bytes");
    }

    @Test
    void theFailureStaysOnceMet() {
        BoundedResponse in = BoundedResponse.body(bytes("x".repeat(5000)), SMALL, "answer", 200);
        catchThrowableOfType(ProviderError.class, in::readAllBytes);
        assertThat(catchThrowableOfType(ProviderError.class, in::read).errorClass())
                .isEqualTo(ErrorClass.RESPONSE_TOO_LARGE);
    }
}
