package io.caravan.provider;

import io.caravan.resilience.ErrorClass;
import io.caravan.resilience.ProviderError;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.eventstream.HeaderValue;
import software.amazon.awssdk.eventstream.Message;
import software.amazon.awssdk.eventstream.MessageDecoder;

/**
 * Reads AWS's binary event-stream framing (Bedrock's ConverseStream): each frame is decoded (and its prelude and
 * message CRCs checked) by the AWS SDK's {@link MessageDecoder} and handed on as an event named by its
 * {@code :event-type} header with its payload as data. A frame whose {@code :message-type} is {@code exception}
 * (or {@code error}) becomes the error of {@code exceptions} (the adapter classifies it). One frame is bounded by
 * {@code maxFrameBytes} before any of it is buffered: the frame's own length prefix is read and checked first.
 */
public final class EventStreamReader implements FrameReader {

    /** Classifies an exception frame: its {@code :exception-type} (or {@code :error-code}) and its payload. */
    public interface Exceptions {
        ProviderError of(String type, String payload);
    }

    private static final int PRELUDE = 12;

    private final String api;
    private final InputStream body;
    private final Exceptions exceptions;
    private final int maxFrameBytes;

    public EventStreamReader(String api, InputStream body, Exceptions exceptions, int maxFrameBytes) {
        this.api = api;
        this.body = body;
        this.exceptions = exceptions;
        this.maxFrameBytes = maxFrameBytes;
    }

    @Override
    public SseEvent next() throws IOException {
        Message frame = nextFrame();
        if (frame == null) {
            return null;
        }
        Map<String, HeaderValue> headers = frame.getHeaders();
        String payload = new String(frame.getPayload(), StandardCharsets.UTF_8);
        String messageType = header(headers, ":message-type");
        if ("exception".equals(messageType) || "error".equals(messageType)) {
            String type = header(headers, ":exception-type");
            throw exceptions.of(type != null ? type : header(headers, ":error-code"), payload);
        }
        return new SseEvent(header(headers, ":event-type"), payload);
    }

    /** The next whole frame, or null at a clean end between frames. */
    private Message nextFrame() throws IOException {
        byte[] prelude = new byte[PRELUDE];
        int first = body.readNBytes(prelude, 0, PRELUDE);
        if (first == 0) {
            return null;
        }
        if (first < PRELUDE) {
            throw new EOFException(api + " stream ended inside a frame");
        }
        long total = ((prelude[0] & 0xffL) << 24) | ((prelude[1] & 0xff) << 16) | ((prelude[2] & 0xff) << 8)
                | (prelude[3] & 0xff);
        if (total > maxFrameBytes) {
            throw new ProviderError(ErrorClass.RESPONSE_TOO_LARGE, 200,
                    api + " stream frame of " + total + " bytes is over the bound of " + maxFrameBytes);
        }
        if (total < Message.MESSAGE_OVERHEAD) {
            throw new ProviderError(ErrorClass.SERVER_ERROR, 200, api + " stream frame with a bad length");
        }
        byte[] frame = new byte[(int) total];
        System.arraycopy(prelude, 0, frame, 0, PRELUDE);
        if (body.readNBytes(frame, PRELUDE, frame.length - PRELUDE) < frame.length - PRELUDE) {
            throw new EOFException(api + " stream ended inside a frame");
        }
        MessageDecoder decoder = new MessageDecoder();
        try {
            decoder.feed(frame);
        } catch (RuntimeException e) { // a CRC that does not match: the frame is damaged
            throw new ProviderError(ErrorClass.SERVER_ERROR, 200, api + " stream frame failed its checksum");
        }
        List<Message> messages = decoder.getDecodedMessages();
        if (messages.size() != 1) {
            throw new ProviderError(ErrorClass.SERVER_ERROR, 200, api + " stream frame could not be decoded");
        }
        return messages.get(0);
    }

    private static String header(Map<String, HeaderValue> headers, String name) {
        HeaderValue v = headers.get(name);
        return v == null ? null : v.getString();
    }
}
