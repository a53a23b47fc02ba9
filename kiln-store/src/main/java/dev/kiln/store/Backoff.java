package dev.kiln.store;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Waits between reconnection attempts: 100 ms doubling to 5 s, each wait drawn from its upper half so that replicas
 * which lost the database together do not all come back in the same instant. Not thread-safe: one per loop.
 */
final class Backoff {
    static final long FIRST_MS = 100;
    static final long MAX_MS = 5_000;

    private long next = FIRST_MS;

    /** The next wait, in milliseconds, from {@code [d/2, d]} for the current step {@code d}. */
    long nextMillis() {
        long d = next;
        next = Math.min(MAX_MS, next * 2);
        return d / 2 + ThreadLocalRandom.current().nextLong(d / 2 + 1);
    }

    void reset() {
        next = FIRST_MS;
    }
}
