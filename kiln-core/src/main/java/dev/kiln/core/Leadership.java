package dev.kiln.core;

/**
 * Which replica does the housekeeping now (lease expiry, queue timeouts, retention): one at a time, taken over
 * within seconds when it dies. PostgreSQL: an advisory lock held on a connection of its own. One process alone on
 * its store is always the leader ({@link #SOLE}).
 */
public interface Leadership extends AutoCloseable {
    Leadership SOLE = new Leadership() {
        @Override
        public boolean isLeader() {
            return true;
        }

        @Override
        public void close() {
        }
    };

    /** Cheap: called every housekeeping round. */
    boolean isLeader();

    @Override
    void close();
}
