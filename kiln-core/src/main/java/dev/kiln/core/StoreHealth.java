package dev.kiln.core;

import java.time.Instant;

/** What {@code /health} says of the store: ok, or the problem and since when (null when ok). */
public record StoreHealth(boolean ok, String problem, Instant since) {
    public static final StoreHealth OK = new StoreHealth(true, null, null);

    public static StoreHealth failing(String problem, Instant since) {
        return new StoreHealth(false, problem, since);
    }
}
