package io.caravan.catalog;

import java.util.concurrent.atomic.AtomicReference;

/** The catalog in force. Tasks take it once when they arrive, so a swap never changes a task in flight. */
public final class CatalogHolder {

    private final AtomicReference<Catalog> current;

    public CatalogHolder(Catalog catalog) {
        this.current = new AtomicReference<>(catalog);
    }

    public Catalog current() {
        return current.get();
    }

    public void swap(Catalog catalog) {
        current.set(catalog);
    }
}
