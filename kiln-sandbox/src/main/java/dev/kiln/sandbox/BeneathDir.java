package dev.kiln.sandbox;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An open directory of a tree a sandbox wrote, read only through file descriptors (FFM, libc): every child is
 * opened relative to its parent's descriptor with {@code openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS)} (plain {@code openat(O_NOFOLLOW)} where the kernel predates openat2, Linux < 5.6: for the
 * single-component names used here that guards the same), listed with {@code getdents64}, typed with {@code statx} on
 * the open descriptor and read with {@code read(2)}. A symlink, {@code ..} or a directory swapped for a link
 * anywhere on the way fails to open ({@code ELOOP}/{@code EXDEV}) instead of leading outside.
 */
final class BeneathDir implements AutoCloseable {
    static final int S_IFMT = 0170000;
    static final int S_IFREG = 0100000;
    static final int S_IFDIR = 0040000;
    static final int S_IFLNK = 0120000;

    private static final int O_RDONLY = 0;
    private static final int O_NONBLOCK = 04000;
    private static final int O_NOCTTY = 0400;
    private static final int O_DIRECTORY = 0200000;
    private static final int O_NOFOLLOW = 0400000;
    private static final int O_CLOEXEC = 02000000;
    private static final long RESOLVE_NO_MAGICLINKS = 0x02;
    private static final long RESOLVE_NO_SYMLINKS = 0x04;
    private static final long RESOLVE_BENEATH = 0x08;
    private static final long SYS_OPENAT2 = 437; // the same number on every architecture (new-style syscall table)
    private static final int AT_FDCWD = -100;
    private static final int AT_EMPTY_PATH = 0x1000;
    private static final int STATX_TYPE_MODE_SIZE = 0x3 | 0x200; // STATX_TYPE | STATX_MODE | STATX_SIZE
    private static final int ENOSYS = 38;
    private static final int EINTR = 4;

    private static final Native NATIVE = new Native();

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

    /** The libc calls, bound once. */
    private static final class Native {
        private final MethodHandle openat;
        private final MethodHandle syscall4;
        private final MethodHandle getdents64;
        private final MethodHandle statx;
        private final MethodHandle read;
        private final MethodHandle close;
        private final VarHandle errno;
        private final long stateSize;
        private volatile boolean noOpenat2;

        Native() {
            Linker linker = Linker.nativeLinker();
            SymbolLookup libc = linker.defaultLookup();
            MemoryLayout state = Linker.Option.captureStateLayout();
            errno = state.varHandle(MemoryLayout.PathElement.groupElement("errno"));
            stateSize = state.byteSize();
            Linker.Option capture = Linker.Option.captureCallState("errno");
            openat = linker.downcallHandle(libc.find("openat").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), capture, Linker.Option.firstVariadicArg(3));
            syscall4 = linker.downcallHandle(libc.find("syscall").orElseThrow(),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), capture,
                    Linker.Option.firstVariadicArg(1));
            getdents64 = linker.downcallHandle(libc.find("getdents64").orElseThrow(),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), capture);
            statx = linker.downcallHandle(libc.find("statx").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS), capture);
            read = linker.downcallHandle(libc.find("read").orElseThrow(),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), capture);
            close = linker.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        }

        private int errno(MemorySegment st) {
            return (int) errno.get(st, 0L);
        }

        int openat(int dirfd, String path, int flags) throws IOException {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment st = a.allocate(stateSize);
                MemorySegment p = a.allocateFrom(path, StandardCharsets.UTF_8);
                while (true) {
                    int r = (int) openat.invokeExact(st, dirfd, p, flags);
                    if (r >= 0) return r;
                    int e = errno(st);
                    if (e != EINTR) throw new NativeIOException("openat", path, e);
                }
            } catch (IOException | RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        boolean openat2Available() {
            if (noOpenat2) return false;
            try {
                int fd = openBeneath(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                close(fd);
            } catch (IOException e) {
                // only ENOSYS flips noOpenat2
            }
            return !noOpenat2;
        }

        /** openat2 with the three RESOLVE_ flags; openat(O_NOFOLLOW) only when the kernel lacks openat2. */
        int openBeneath(int dirfd, String path, int flags) throws IOException {
            if (!noOpenat2) {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment st = a.allocate(stateSize);
                    MemorySegment p = a.allocateFrom(path, StandardCharsets.UTF_8);
                    MemorySegment how = a.allocate(24); // struct open_how { u64 flags; u64 mode; u64 resolve; }
                    how.set(JAVA_LONG, 0, flags & 0xffffffffL);
                    how.set(JAVA_LONG, 8, 0);
                    how.set(JAVA_LONG, 16, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
                    while (true) {
                        long r = (long) syscall4.invokeExact(st, SYS_OPENAT2, dirfd, p, how, 24L);
                        if (r >= 0) return (int) r;
                        int e = errno(st);
                        if (e == EINTR) continue;
                        if (e != ENOSYS) throw new NativeIOException("openat2", path, e);
                        noOpenat2 = true;
                        break;
                    }
                } catch (IOException | RuntimeException | Error e) {
                    throw e;
                } catch (Throwable t) {
                    throw new IllegalStateException(t);
                }
            }
            if (path.contains("/") || path.equals("..") || path.equals(".")) {
                throw new NativeIOException("openat", path, 18 /* EXDEV, what RESOLVE_BENEATH answers */);
            }
            return openat(dirfd, path, flags | O_NOFOLLOW);
        }

        List<Entry> getdents(int fd) throws IOException {
            List<Entry> out = new ArrayList<>();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment st = a.allocate(stateSize);
                MemorySegment buf = a.allocate(32 * 1024, 8);
                while (true) {
                    long n = (long) getdents64.invokeExact(st, fd, buf, buf.byteSize());
                    if (n == 0) return out;
                    if (n < 0) {
                        int e = errno(st);
                        if (e == EINTR) continue;
                        throw new NativeIOException("getdents64", "", e);
                    }
                    // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
                    for (long off = 0; off < n; ) {
                        int reclen = Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT_UNALIGNED, off + 16));
                        int type = Byte.toUnsignedInt(buf.get(ValueLayout.JAVA_BYTE, off + 18));
                        String name = buf.asSlice(off + 19, reclen - 19).getString(0, StandardCharsets.UTF_8);
                        if (!name.equals(".") && !name.equals("..")) out.add(new Entry(name, type));
                        off += reclen;
                    }
                }
            } catch (IOException | RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        Stat statx(int fd) throws IOException {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment st = a.allocate(stateSize);
                MemorySegment empty = a.allocateFrom("", StandardCharsets.UTF_8);
                MemorySegment buf = a.allocate(256, 8); // struct statx: the same layout on every architecture
                int r = (int) statx.invokeExact(st, fd, empty, AT_EMPTY_PATH, STATX_TYPE_MODE_SIZE, buf);
                if (r != 0) throw new NativeIOException("statx", "", errno(st));
                int mode = Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT, 28));
                long size = buf.get(JAVA_LONG, 40);
                return new Stat(mode, size);
            } catch (IOException | RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        int read(int fd, byte[] dst) throws IOException {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment st = a.allocate(stateSize);
                MemorySegment buf = a.allocate(dst.length);
                while (true) {
                    long n = (long) read.invokeExact(st, fd, buf, (long) dst.length);
                    if (n == 0) return -1;
                    if (n > 0) {
                        MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, dst, 0, (int) n);
                        return (int) n;
                    }
                    int e = errno(st);
                    if (e != EINTR) throw new NativeIOException("read", "", e);
                }
            } catch (IOException | RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        void close(int fd) {
            try {
                int ignored = (int) close.invokeExact(fd);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
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
