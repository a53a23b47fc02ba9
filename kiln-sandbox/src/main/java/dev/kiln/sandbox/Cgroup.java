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
}
