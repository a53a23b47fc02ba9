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
import java.util.ArrayList;
import java.util.List;

/**
 * The libc calls {@link BeneathDir} makes, bound once through FFM: {@code openat}, {@code openat2} (through
 * {@code syscall}: glibc 2.36 has no wrapper), {@code getdents64}, {@code statx}, {@code read}, {@code close}; each
 * failure an {@link BeneathDir.NativeIOException} with its errno, {@code EINTR} retried.
 */
final class FdCalls {
    static final int O_RDONLY = 0;
    static final int O_DIRECTORY = 0200000;
    static final int O_NOFOLLOW = 0400000;
    static final int O_CLOEXEC = 02000000;
    static final int AT_FDCWD = -100;
    private static final long RESOLVE_NO_MAGICLINKS = 0x02;
    private static final long RESOLVE_NO_SYMLINKS = 0x04;
    private static final long RESOLVE_BENEATH = 0x08;
    private static final long SYS_OPENAT2 = 437; // the same number on every architecture (new-style syscall table)
    private static final int AT_EMPTY_PATH = 0x1000;
    private static final int STATX_TYPE_MODE_SIZE = 0x3 | 0x200; // STATX_TYPE | STATX_MODE | STATX_SIZE
    private static final int ENOSYS = 38;
    private static final int EINTR = 4;


    private final MethodHandle openat;
    private final MethodHandle syscall4;
    private final MethodHandle getdents64;
    private final MethodHandle statx;
    private final MethodHandle read;
    private final MethodHandle close;
    private final VarHandle errno;
    private final long stateSize;
    private volatile boolean noOpenat2;

    FdCalls() {
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
                if (e != EINTR) throw new BeneathDir.NativeIOException("openat", path, e);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** For tests: behave as on a kernel without openat2 ({@code on}), or probe again ({@code off}). */
    void forceOpenatFallback(boolean on) {
        noOpenat2 = on;
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
                    if (e != ENOSYS) throw new BeneathDir.NativeIOException("openat2", path, e);
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
            throw new BeneathDir.NativeIOException("openat", path, 18 /* EXDEV, what RESOLVE_BENEATH answers */);
        }
        return openat(dirfd, path, flags | O_NOFOLLOW);
    }

    List<BeneathDir.Entry> getdents(int fd) throws IOException {
        List<BeneathDir.Entry> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(stateSize);
            MemorySegment buf = a.allocate(32 * 1024, 8);
            while (true) {
                long n = (long) getdents64.invokeExact(st, fd, buf, buf.byteSize());
                if (n == 0) return out;
                if (n < 0) {
                    int e = errno(st);
                    if (e == EINTR) continue;
                    throw new BeneathDir.NativeIOException("getdents64", "", e);
                }
                // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
                for (long off = 0; off < n; ) {
                    int reclen = Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT_UNALIGNED, off + 16));
                    int type = Byte.toUnsignedInt(buf.get(ValueLayout.JAVA_BYTE, off + 18));
                    String name = buf.asSlice(off + 19, reclen - 19).getString(0, StandardCharsets.UTF_8);
                    if (!name.equals(".") && !name.equals("..")) out.add(new BeneathDir.Entry(name, type));
                    off += reclen;
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    BeneathDir.Stat statx(int fd) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(stateSize);
            MemorySegment empty = a.allocateFrom("", StandardCharsets.UTF_8);
            MemorySegment buf = a.allocate(256, 8); // struct statx: the same layout on every architecture
            int r = (int) statx.invokeExact(st, fd, empty, AT_EMPTY_PATH, STATX_TYPE_MODE_SIZE, buf);
            if (r != 0) throw new BeneathDir.NativeIOException("statx", "", errno(st));
            int mode = Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT, 28));
            long size = buf.get(JAVA_LONG, 40);
            return new BeneathDir.Stat(mode, size);
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
                if (e != EINTR) throw new BeneathDir.NativeIOException("read", "", e);
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
