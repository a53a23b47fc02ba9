package dev.kiln.core;

import java.security.SecureRandom;
import java.time.InstantSource;
import java.util.UUID;

/** Time-ordered job ids (UUIDv7 layout): unique across restarts and replicas, sortable by creation. */
public final class JobIds {
    private static final SecureRandom RANDOM = new SecureRandom();

    private JobIds() {
    }

    public static String next(InstantSource clock) {
        long millis = clock.millis();
        long msb = (millis << 16) | 0x7000L | (RANDOM.nextInt() & 0x0FFFL);
        long lsb = (RANDOM.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
        return new UUID(msb, lsb).toString();
    }
}
