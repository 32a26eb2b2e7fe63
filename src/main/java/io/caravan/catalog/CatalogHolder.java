package io.caravan.catalog;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/** The catalog in force. Tasks take it once when they arrive, so a swap never changes a task in flight. */
public final class CatalogHolder {

    private final AtomicReference<Catalog> current;
    private final List<Consumer<Catalog>> swapListeners = new CopyOnWriteArrayList<>();

    public CatalogHolder(Catalog catalog) {
        this.current = new AtomicReference<>(catalog);
    }

    public Catalog current() {
        return current.get();
    }

    public void swap(Catalog catalog) {
        current.set(catalog);
        swapListeners.forEach(listener -> listener.accept(catalog));
    }

    /** Called with each catalog swapped in after this call (what follows the catalog, such as its gauges). */
    public void onSwap(Consumer<Catalog> listener) {
        swapListeners.add(listener);
    }
}
