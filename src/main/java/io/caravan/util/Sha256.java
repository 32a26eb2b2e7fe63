package io.caravan.util;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 of text (its UTF-8 bytes): how Caravan stores, compares and names API keys, and keys its caches. */
public final class Sha256 {

    private Sha256() {}

    public static byte[] digest(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    /** The lowercase hex digest, as a catalog's {@code sha256:} key lines hold it. */
    public static String hex(String text) {
        return HexFormat.of().formatHex(digest(text));
    }
}
