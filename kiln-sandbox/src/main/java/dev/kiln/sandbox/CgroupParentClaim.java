package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One Kiln process per cgroup parent per host. The executor and the layer store kill and remove their parent's
 * stale children at start (what a crashed run left), so a second Kiln on the same parent would kill the first one's
 * sandboxes. A process claims the parent with an exclusive lock on a file named after it, shared by the parts of
 * that process (executor, layer store) and released when the last of them closes; the kernel drops the lock when the
 * process dies, so a crash never leaves a stale claim.
 */
public final class CgroupParentClaim implements AutoCloseable {
    /** The lock this process holds per parent, and how many open claims share it. */
    private static final class Held {
        final Path file;
        final FileChannel channel; // holds the lock until closed
        int claims;

        Held(Path file, FileChannel channel) {
            this.file = file;
            this.channel = channel;
        }
    }

    private static final Map<String, Held> HELD = new HashMap<>();

    private final String parent;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CgroupParentClaim(String parent) {
        this.parent = parent;
    }

    /**
     * @throws IllegalStateException when another process holds the parent, or no lock file can be made
     */
    static CgroupParentClaim claim(String parent) {
        synchronized (HELD) {
            Held held = HELD.get(parent);
            if (held == null) {
                held = lock(parent);
                HELD.put(parent, held);
            }
            held.claims++;
            return new CgroupParentClaim(parent);
        }
    }

    private static Held lock(String parent) {
        Path file = lockFile(parent);
        // Releasing deletes the file while still holding the lock, so a claimant that opened it just before may lock
        // a file that is gone: it checks that the path is still the file it locked, else tries again with a new one.
        for (int attempt = 0; attempt < 10; attempt++) {
            Held held = tryLock(parent, file);
            if (held != null) return held;
        }
        throw new IllegalStateException("cannot claim the cgroup parent lock " + file + ": it keeps being replaced");
    }

    private static Held tryLock(String parent, Path file) {
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new IllegalStateException("cannot open the cgroup parent lock " + file + ": " + e, e);
        }
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (IOException e) {
            closeQuietly(channel);
            throw new IllegalStateException("cannot lock " + file + ": " + e, e);
        }
        if (lock == null) {
            closeQuietly(channel);
            throw new IllegalStateException("the cgroup parent '" + parent + "' is in use by another running Kiln on "
                    + "this host (lock " + file + "); give this one its own with --cgroup-parent NAME or "
                    + "sandbox.cgroup_parent in its config");
        }
        try {
            if (locksTheLiveFile(file)) return new Held(file, channel);
        } catch (IOException e) {
            // gone (NoSuchFileException): try again
        }
        closeQuietly(channel);
        return null;
    }

    /**
     * Whether this process has the file now at {@code file} open (it can only be the channel just locked). Checked
     * through /proc/self/fd, because opening the file again to compare would drop the lock: POSIX locks belong to the
     * process and go with the first close of any descriptor of the file.
     */
    private static boolean locksTheLiveFile(Path file) throws IOException {
        Object live = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (live.equals(Files.readAttributes(fd, BasicFileAttributes.class).fileKey())) return true;
                } catch (IOException e) {
                    // a descriptor closed meanwhile
                }
            }
        }
        return false;
    }

    /**
     * A directory no other user can write, so nobody else can hold or plant the file: /run/kiln for root, else the
     * user's runtime directory ($XDG_RUNTIME_DIR), else the temp dir.
     */
    public static Path lockFile(String parent) {
        if (!Privileges.isRoot()) {
            String runtime = System.getenv("XDG_RUNTIME_DIR");
            Path dir = runtime != null && !runtime.isBlank() && Files.isDirectory(Path.of(runtime)) ? Path.of(runtime)
                    : Path.of(System.getProperty("java.io.tmpdir"));
            return dir.resolve("kiln-cgroup-" + parent + ".lock");
        }
        Path dir = Path.of("/run/kiln");
        try {
            Files.createDirectories(dir,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + dir + " for the cgroup parent lock: " + e, e);
        }
        return dir.resolve("cgroup-" + parent + ".lock");
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        synchronized (HELD) {
            Held held = HELD.get(parent);
            if (held == null || --held.claims > 0) return;
            HELD.remove(parent);
            try {
                Files.deleteIfExists(held.file); // under the lock: see lock()
            } catch (IOException ignored) {
                // an empty lock file left behind is harmless
            }
            closeQuietly(held.channel); // releases the lock
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing held
        }
    }
}
