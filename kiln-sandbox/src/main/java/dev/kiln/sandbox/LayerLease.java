package dev.kiln.sandbox;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Keeps a layer from being removed by {@link LayerStore#removeUnused} or {@link LayerStore#removeIfUnleased} while it
 * is held (e.g. for the whole of an execution). Closing is idempotent.
 */
public final class LayerLease implements AutoCloseable {
    private final LayerStore store;
    private final String digest;
    private final AtomicBoolean closed = new AtomicBoolean();

    LayerLease(LayerStore store, String digest) {
        this.store = store;
        this.digest = digest;
    }

    public String digest() {
        return digest;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) store.release(digest);
    }
}
