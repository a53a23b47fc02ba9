package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * An open directory of a tree a sandbox wrote, read only through file descriptors (FFM, libc, see {@link FdCalls}):
 * a path below it (one name, or several joined by '/') is opened relative to this descriptor with
 * {@code openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)}, which refuses a symlink or
 * {@code ..} on any component ({@code ELOOP}/{@code EXDEV}), so a directory swapped for a link on the way leads
 * nowhere; where the kernel predates openat2 (Linux < 5.6), one {@code openat(O_NOFOLLOW|O_DIRECTORY)} per
 * component instead. Directories are listed with {@code getdents64}, anything opened is typed with {@code statx} on
 * its descriptor and read with {@code read(2)} from it.
 */
final class BeneathDir implements AutoCloseable {
    static final int S_IFMT = 0170000;
    static final int S_IFREG = 0100000;
    static final int S_IFDIR = 0040000;
    static final int S_IFLNK = 0120000;

    private static final int O_RDONLY = FdCalls.O_RDONLY;
    private static final int O_NONBLOCK = 04000;
    private static final int O_NOCTTY = 0400;
    private static final int O_DIRECTORY = FdCalls.O_DIRECTORY;
    private static final int O_NOFOLLOW = FdCalls.O_NOFOLLOW;
    private static final int O_CLOEXEC = FdCalls.O_CLOEXEC;
    private static final int AT_FDCWD = FdCalls.AT_FDCWD;

    private static final FdCalls NATIVE = new FdCalls();

    private final int fd;
    private final String name; // relative to the root, for messages
    private boolean closed;

    private BeneathDir(int fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /** One directory entry as getdents64 reported it ({@code type} is d_type: a hint only, see {@link Stat}). */
    record Entry(String name, int type) {
        static final int DT_DIR = 4;
        static final int DT_REG = 8;
    }

    /** What statx said about an open descriptor. */
    record Stat(int mode, long size) {
        boolean isRegular() {
            return (mode & S_IFMT) == S_IFREG;
        }

        boolean isDirectory() {
            return (mode & S_IFMT) == S_IFDIR;
        }
    }

    /** An open regular file (or whatever it turned out to be: check {@link #stat()}). */
    static final class OpenFile implements AutoCloseable {
        private final int fd;
        private boolean closed;

        private OpenFile(int fd) {
            this.fd = fd;
        }

        Stat stat() throws IOException {
            return NATIVE.statx(fd);
        }

        /** Up to {@code buf.length} bytes; -1 at the end. */
        int read(byte[] buf) throws IOException {
            return NATIVE.read(fd, buf);
        }

        @Override
        public void close() {
            if (!closed) NATIVE.close(fd);
            closed = true;
        }
    }

    /** Opens {@code dir} itself; its last component must not be a symlink (its ancestors are Kiln's own). */
    static BeneathDir openRoot(Path dir) throws IOException {
        return new BeneathDir(NATIVE.openat(AT_FDCWD, dir.toString(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), "");
    }

    /** For tests: the per-component openat walk of kernels before 5.6 ({@code on}), or openat2 again. */
    static void forceOpenatFallback(boolean on) {
        NATIVE.forceOpenatFallback(on);
    }

    /** Whether the kernel has openat2 (else the single-component O_NOFOLLOW fallback is used). */
    static boolean hasOpenat2() {
        return NATIVE.openat2Available();
    }

    /** The directory {@code child} (one component or a relative path): never through a link, never above this. */
    BeneathDir openDir(String child) throws IOException {
        return new BeneathDir(openPath(child, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
                name.isEmpty() ? child : name + "/" + child);
    }

    /**
     * {@code child} (one component or a relative path) for reading: non-blocking (a FIFO does not wait for a
     * writer), never a controlling tty. The caller checks {@link OpenFile#stat()} before reading.
     */
    OpenFile openFile(String child) throws IOException {
        return new OpenFile(openPath(child, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC));
    }

    /** One openat2 call; without openat2, one O_NOFOLLOW|O_DIRECTORY openat per directory component, then the last. */
    private int openPath(String rel, int flags) throws IOException {
        if (!rel.contains("/") || hasOpenat2()) return NATIVE.openBeneath(fd, rel, flags);
        String[] parts = rel.split("/");
        int dir = fd;
        try {
            for (int i = 0; i < parts.length - 1; i++) {
                int next = NATIVE.openBeneath(dir, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dir != fd) NATIVE.close(dir);
                dir = next;
            }
            return NATIVE.openBeneath(dir, parts[parts.length - 1], flags);
        } finally {
            if (dir != fd) NATIVE.close(dir);
        }
    }

    /** The entries except {@code .} and {@code ..}, in the order the kernel gives them. */
    List<Entry> list() throws IOException {
        return NATIVE.getdents(fd);
    }

    Stat stat() throws IOException {
        return NATIVE.statx(fd);
    }

    @Override
    public void close() {
        if (!closed) NATIVE.close(fd);
        closed = true;
    }

    @Override
    public String toString() {
        return "/output" + (name.isEmpty() ? "" : "/" + name);
    }

    /** A failed call with its errno ({@link #errno()}), e.g. ELOOP (40) for a symlink, EXDEV (18) for {@code ..}. */
    static final class NativeIOException extends IOException {
        private final int errno;

        NativeIOException(String call, String path, int errno) {
            super(call + (path.isEmpty() ? "" : "(" + path + ")") + " failed: errno " + errno);
            this.errno = errno;
        }

        int errno() {
            return errno;
        }
    }
}
