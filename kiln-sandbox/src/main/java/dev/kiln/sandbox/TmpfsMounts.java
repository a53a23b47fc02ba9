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
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * {@code mount(2)} of a tmpfs and {@code umount2(2)}, called directly (FFM, libc) instead of spawning mount(8): a
 * spawn costs ~5 ms on a 2-core machine, the call microseconds, and this runs for every cold start. Acts in this
 * process's mount namespace, where bubblewrap's sandboxes are spawned from.
 */
final class TmpfsMounts {
    static final long MS_NOSUID = 2;
    static final long MS_NODEV = 4;
    private static final int MNT_DETACH = 2;

    private static final MethodHandle MOUNT;
    private static final MethodHandle UMOUNT2;
    private static final VarHandle ERRNO;
    private static final long STATE_SIZE;

    static {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        MemoryLayout state = Linker.Option.captureStateLayout();
        ERRNO = state.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        STATE_SIZE = state.byteSize();
        Linker.Option capture = Linker.Option.captureCallState("errno");
        MOUNT = linker.downcallHandle(libc.find("mount").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS), capture);
        UMOUNT2 = linker.downcallHandle(libc.find("umount2").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), capture);
    }

    private TmpfsMounts() {
    }

    /** A tmpfs named {@code source} on {@code dir} with {@code flags} (MS_*) and {@code options} ("mode=0755"). */
    static void mount(String source, Path dir, long flags, String options) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(STATE_SIZE);
            int r = (int) MOUNT.invokeExact(st, a.allocateFrom(source, StandardCharsets.UTF_8),
                    a.allocateFrom(dir.toString(), StandardCharsets.UTF_8), a.allocateFrom("tmpfs", StandardCharsets.UTF_8),
                    flags, a.allocateFrom(options, StandardCharsets.UTF_8));
            if (r != 0) throw new IOException("mount(tmpfs, " + dir + ") failed: errno " + (int) ERRNO.get(st, 0L));
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Unmounts {@code dir}; {@code lazy}: detach even if something still holds it. */
    static void umount(Path dir, boolean lazy) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(STATE_SIZE);
            int r = (int) UMOUNT2.invokeExact(st, a.allocateFrom(dir.toString(), StandardCharsets.UTF_8),
                    lazy ? MNT_DETACH : 0);
            if (r != 0) throw new IOException("umount(" + dir + ") failed: errno " + (int) ERRNO.get(st, 0L));
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
