package dev.kiln.core;

/**
 * Wake-ups between orchestrator replicas that share one store: PostgreSQL {@code LISTEN/NOTIFY} across processes,
 * a direct call within one process (SQLite). A signal says only that something changed in the store; the store
 * stays the truth, and a receiver reads it. Signals may be lost (a dropped connection): a receiver then gets
 * {@link Topic#RESYNC} and reloads what it caches.
 */
public interface StoreSignals extends AutoCloseable {
    enum Topic {
        /** A job became queued (submitted or re-queued); id = job id. */
        QUEUED,
        /** A job reached its terminal state; id = job id. */
        FINISHED,
        /** A cancel was requested for a running job; id = job id. */
        CANCEL,
        /** A node's state changed (drained, resumed, removed, joined); id = node id. */
        NODES,
        /** A replica has a follower of a running job's live output; the replica running it mirrors it; id = job id. */
        FOLLOW,
        /** More of a job's live output was mirrored to the store; id = job id. */
        OUTPUT,
        /** Signals may have been missed (the listening connection was re-established); id = null. */
        RESYNC
    }

    @FunctionalInterface
    interface Listener {
        /** Called on the signals' own thread; must not block. */
        void signal(Topic topic, String id);
    }

    /** Tells every replica (this one included), once the caller's change is committed. */
    void publish(Topic topic, String id);

    void subscribe(Listener listener);

    @Override
    void close();

    /** Within one process: every publish reaches this process's listeners, in order, on one thread. */
    static StoreSignals inProcess() {
        return new InProcessSignals();
    }
}
