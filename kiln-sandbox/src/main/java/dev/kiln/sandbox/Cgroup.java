package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** One execution's cgroup (one directory per v1 controller, or one v2 directory). */
interface Cgroup {
    String name();

    /** The cgroup.procs files a new process must write its pid into (every v1 controller, or the single v2 one). */
    List<Path> procsFiles();

    /** One best-effort kill pass, safe to call from any thread at any time (also after removal). */
    void signalKill();

    /** Kills until no process is left; returns false if processes were still there at the deadline. */
    boolean killAndAwaitEmpty(Duration timeout);

    boolean isEmpty();

    /** Read before {@link #remove()}: the counters disappear with the directory. */
    CgroupStats stats();

    /** rmdir of every directory of this cgroup; the cgroup must be empty. */
    void remove() throws IOException;

    /**
     * The end of every sandbox's cgroup: kill what is left (unless known empty), then remove it; a cgroup that
     * cannot be emptied is logged and left for the next start's stale-cgroup sweep.
     */
    default void dispose(boolean knownEmpty, Duration timeout) {
        org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Cgroup.class);
        boolean empty = knownEmpty || killAndAwaitEmpty(timeout);
        if (!empty) {
            log.error("cgroup {} still has processes; left for the next start to remove", name());
            return;
        }
        try {
            remove();
        } catch (IOException e) {
            log.error("cannot remove cgroup {}: {}", name(), e.toString());
        }
    }
}
