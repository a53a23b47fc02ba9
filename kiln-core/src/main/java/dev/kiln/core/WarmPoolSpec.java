package dev.kiln.core;

/**
 * How many pre-spawned sandboxes a node keeps ready for a job type. {@code size} null means "the node's slots";
 * 0 disables the pool. {@code refillConcurrency} bounds how many start at once; an idle sandbox older than
 * {@code idleTtlSeconds} is replaced.
 */
public record WarmPoolSpec(Integer size, int refillConcurrency, int idleTtlSeconds) {
    public static final WarmPoolSpec DEFAULT = new WarmPoolSpec(null, 1, 600);

    public WarmPoolSpec {
        if (size != null && size < 0) throw new IllegalArgumentException("pool_size must not be negative");
        if (refillConcurrency < 1) throw new IllegalArgumentException("pool_refill_concurrency must be at least 1");
        if (idleTtlSeconds < 1) throw new IllegalArgumentException("pool_idle_ttl must be at least 1 second");
    }

    /** The pool size on a node with {@code slots} slots. */
    public int sizeFor(int slots) {
        return size == null ? slots : size;
    }
}
