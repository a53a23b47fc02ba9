package dev.kiln.node.agent;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * Delays between reconnect attempts: 100 ms doubling to 5 s, each with ±20 % jitter so nodes that lost the same
 * orchestrator do not all come back in the same instant. Not thread-safe (the agent's connection loop owns it).
 */
final class Backoff {
    static final long FIRST_MILLIS = 100;
    static final long MAX_MILLIS = 5_000;
    static final double JITTER = 0.2;

    private final RandomGenerator random;
    private long next = FIRST_MILLIS;

    Backoff(RandomGenerator random) {
        this.random = random;
    }

    /** The delay before the next attempt; each call doubles the following one, up to the cap. */
    Duration next() {
        long base = next;
        next = Math.min(MAX_MILLIS, next * 2);
        double factor = 1 + JITTER * (2 * random.nextDouble() - 1);
        return Duration.ofMillis(Math.round(base * factor));
    }

    /** After a welcome: the next failure starts again at 100 ms. */
    void reset() {
        next = FIRST_MILLIS;
    }
}
