package dev.kiln.core;

import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * State changes the orchestrator decided but the store could not take (disk full, database unreachable). Each is
 * kept here, in order, and made again until the store takes it, so a job whose result arrived during an outage
 * still reaches its terminal state once the store is back. They are fenced by version like any other write: one
 * that lost the race meanwhile changes nothing when it is finally made.
 */
final class PendingWrites {
    private static final Logger log = LoggerFactory.getLogger(PendingWrites.class);

    /** One write; throws {@link StoreUnavailableException} while the store still fails. */
    @FunctionalInterface
    interface Write {
        void apply();
    }

    private record Entry(String what, Write write) {
    }

    private final ConcurrentLinkedQueue<Entry> queue = new ConcurrentLinkedQueue<>();

    void add(String what, Write write) {
        queue.add(new Entry(what, write));
    }

    /** Makes the pending writes in order; stops at the first the store refuses again. True when none is left. */
    boolean retry() {
        Entry e;
        while ((e = queue.peek()) != null) {
            try {
                e.write().apply();
            } catch (StoreUnavailableException stillDown) {
                return false;
            } catch (RuntimeException bug) {
                log.error("dropping pending write '{}': it failed for a reason other than the store", e.what(), bug);
            }
            queue.remove(e);
            log.info("made pending write: {}", e.what());
        }
        return true;
    }

    int size() {
        return queue.size();
    }
}
