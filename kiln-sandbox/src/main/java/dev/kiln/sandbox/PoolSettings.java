package dev.kiln.sandbox;

import java.time.Duration;
import java.util.Objects;

/**
 * How many pre-spawned ("warm") sandboxes one job type keeps ready; see {@link BwrapExecutor#configurePool}.
 *
 * @param size              sandboxes kept ready (0: no pool)
 * @param refillConcurrency at most this many sandboxes of the type start at once (at least 1)
 * @param idleTtl           a ready sandbox idle this long is destroyed and replaced (positive)
 */
public record PoolSettings(int size, int refillConcurrency, Duration idleTtl) {
    public static final int DEFAULT_REFILL_CONCURRENCY = 1;
    public static final Duration DEFAULT_IDLE_TTL = Duration.ofMinutes(10);
    public static final PoolSettings DISABLED = new PoolSettings(0, DEFAULT_REFILL_CONCURRENCY, DEFAULT_IDLE_TTL);

    public PoolSettings {
        Objects.requireNonNull(idleTtl, "idleTtl");
        if (size < 0) throw new IllegalArgumentException("pool size must not be negative: " + size);
        if (refillConcurrency < 1) {
            throw new IllegalArgumentException("refill concurrency must be at least 1: " + refillConcurrency);
        }
        if (idleTtl.isNegative() || idleTtl.isZero()) {
            throw new IllegalArgumentException("idle ttl must be positive: " + idleTtl);
        }
    }

    /** {@code size} sandboxes, one started at a time, replaced after 10 idle minutes. */
    public static PoolSettings of(int size) {
        return new PoolSettings(size, DEFAULT_REFILL_CONCURRENCY, DEFAULT_IDLE_TTL);
    }

    public boolean enabled() {
        return size > 0;
    }
}
