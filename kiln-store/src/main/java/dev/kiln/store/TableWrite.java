package dev.kiln.store;

import org.jdbi.v3.core.Handle;

/**
 * A unit of SQL run inside a transaction the store chose: SQLite's {@link GroupCommitter} batch, or PostgreSQL's own
 * transaction per write. It should only run SQL: argument checks and serialization belong on the caller's thread,
 * before it is handed over (under SQLite, the committer is the one thread all writes share).
 */
@FunctionalInterface
interface TableWrite<T> {
    T applyTo(Handle handle);

    /** How a store runs a write: in a transaction of its own, returning only once it committed. */
    interface Runner {
        <T> T run(TableWrite<T> write);
    }
}
