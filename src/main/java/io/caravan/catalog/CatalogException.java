package io.caravan.catalog;

import io.caravan.util.Redaction;

/**
 * A catalog that cannot be used. The message is the one line printed at start-up, logged and answered by
 * {@code /admin/reload}: file, entry, problem, with secrets a quoted value may hold ({@code base_url} credentials,
 * anything shaped like a key) redacted.
 */
public class CatalogException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public CatalogException(String file, String entry, String problem) {
        super(Redaction.redact(file + ": " + entry + ": " + problem));
    }
}
