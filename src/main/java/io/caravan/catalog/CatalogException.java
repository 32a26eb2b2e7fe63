package io.caravan.catalog;

/** A catalog that cannot be used. The message is the one line printed at start-up: file, entry, problem. */
public class CatalogException extends RuntimeException {

    public CatalogException(String file, String entry, String problem) {
        super(file + ": " + entry + ": " + problem);
    }
}
