package dev.kiln.store;

import dev.kiln.core.KilnException;

/**
 * The cursor of a newest-first job listing: the {@code seq} of the last job on the previous page. Clients treat
 * it as opaque; a malformed one is the client's error (400), not the store's.
 */
final class ListCursor {
    /** Lists from the newest job: every seq is below this. */
    static final long START = Long.MAX_VALUE;

    private ListCursor() {
    }

    static String encode(long lastSeq) {
        return Long.toString(lastSeq);
    }

    /** @return the seq to list below, {@link #START} for a null cursor */
    static long decode(String cursor) {
        if (cursor == null) return START;
        try {
            long seq = Long.parseLong(cursor);
            if (seq > 0) return seq;
        } catch (NumberFormatException e) {
            // falls through to the client error below
        }
        throw KilnException.invalid("cursor", "is not a cursor returned by a previous page");
    }
}
