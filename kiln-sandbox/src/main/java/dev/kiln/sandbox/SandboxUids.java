package dev.kiln.sandbox;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Hands out the host uid (and the gid of the same number) each live sandbox runs as, from a configured
 * {@link SandboxUidRange}: no two sandboxes (cold, warm, layer build) hold the same uid at once, in this JVM (a set)
 * or across Kiln processes on the host (an exclusive {@code flock} on {@code <lockDir>/<uid>}, dropped by the kernel
 * when a process dies). A uid goes back only through {@link Lease#release(boolean)} with {@code processesGone}
 * true, i.e. after the sandbox's cgroup was seen empty: no process of the old job can still run under it when the
 * next job gets it. A uid whose processes could not all be killed stays taken until this process exits. The lowest
 * free uid is taken first, so only as many lock files exist as sandboxes ever ran at once.
 * <p>
 * When Kiln is not root there is only its own uid: {@link #unprivileged()} hands out leases of {@link Lease#uid()}
 * -1 (no {@code setpriv}; bwrap maps Kiln's uid to 65534 inside), as before.
 */
public final class SandboxUids {
    private static final Logger log = LoggerFactory.getLogger(SandboxUids.class);
    /** Where every Kiln on the host keeps its uid locks: a tmpfs, so nothing outlives a reboot. */
    public static final Path DEFAULT_LOCK_DIR = Path.of("/run/kiln/uids");
    /** Uids held in this JVM, whichever instance leased them. */
    private static final Set<Integer> HELD = ConcurrentHashMap.newKeySet();

    private final SandboxUidRange range; // null: unprivileged
    private final Path lockDir;

    private SandboxUids(SandboxUidRange range, Path lockDir) {
        this.range = range;
        this.lockDir = lockDir;
    }

    /** Uids from {@code range}, locked under {@link #DEFAULT_LOCK_DIR}. */
    public static SandboxUids of(SandboxUidRange range) {
        return of(range, DEFAULT_LOCK_DIR);
    }

    static SandboxUids of(SandboxUidRange range, Path lockDir) {
        try {
            Files.createDirectories(lockDir);
            Files.setPosixFilePermissions(lockDir, PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the sandbox uid lock directory " + lockDir + ": " + e, e);
        }
        return new SandboxUids(range, lockDir);
    }

    /** Kiln is not root: every sandbox runs as Kiln's own uid (mapped to 65534 inside). */
    public static SandboxUids unprivileged() {
        return new SandboxUids(null, null);
    }

    /** For the executor and layer store: the range when root, else {@link #unprivileged()}. */
    static SandboxUids forHost(BwrapConfig config, boolean root) {
        if (!root) return unprivileged();
        String problem = config.uidRange().problemOnHost(Path.of("/etc"), 1);
        if (problem != null) throw new IllegalStateException("sandbox.uid_range " + config.uidRange() + " " + problem);
        return of(config.uidRange());
    }

    boolean privileged() {
        return range != null;
    }

    SandboxUidRange range() {
        return range;
    }

    /**
     * The lowest uid of the range no sandbox holds.
     *
     * @throws IOException when every uid of the range is taken (the range is smaller than the sandboxes alive)
     */
    Lease lease() throws IOException {
        if (range == null) return new Lease(-1, null, null);
        for (long u = range.first(); u <= range.last(); u++) {
            int uid = (int) u;
            if (!HELD.add(uid)) continue;
            FileChannel ch = null;
            try {
                ch = FileChannel.open(lockDir.resolve(Integer.toString(uid)), StandardOpenOption.CREATE,
                        StandardOpenOption.WRITE);
                FileLock lock = ch.tryLock();
                if (lock != null) return new Lease(uid, ch, lock);
            } catch (OverlappingFileLockException | IOException e) {
                log.debug("sandbox uid {} not available: {}", uid, e.toString());
            }
            if (ch != null) ch.close();
            HELD.remove(uid);
        }
        throw new IOException("no free sandbox uid: all " + range.size() + " uids of sandbox.uid_range " + range
                + " are held by live sandboxes (make the range larger than slots plus warm pools plus layer builds)");
    }

    /** One sandbox's uid, held from before its first process until its cgroup is empty. */
    static final class Lease {
        private final int uid;
        private final FileChannel channel;
        private final FileLock lock;
        private boolean done;

        private Lease(int uid, FileChannel channel, FileLock lock) {
            this.uid = uid;
            this.channel = channel;
            this.lock = lock;
        }

        /** The host uid (and gid) to run as; -1 when Kiln is not root (it runs the sandbox as itself). */
        int uid() {
            return uid;
        }

        /**
         * Gives the uid back when {@code processesGone} (the cgroup was seen empty, or no process was ever started);
         * otherwise keeps it taken for the life of this process, so a survivor never shares it with a new job.
         * Idempotent.
         */
        synchronized void release(boolean processesGone) {
            if (done || uid < 0) return;
            done = true;
            if (!processesGone) {
                log.error("sandbox uid {} stays retired: processes of its last sandbox may still be alive", uid);
                return;
            }
            try {
                lock.release();
                channel.close();
            } catch (IOException e) {
                log.warn("cannot release the lock of sandbox uid {}: {}", uid, e.toString());
            } finally {
                HELD.remove(uid);
            }
        }

        @Override
        public String toString() {
            return uid < 0 ? "Kiln's own uid" : "uid " + uid;
        }
    }
}
