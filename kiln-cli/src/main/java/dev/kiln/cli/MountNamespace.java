package dev.kiln.cli;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives a Kiln process that mounts (the size-capped tmpfs behind each sandbox's {@code /output}, see
 * {@code OutputMount}) a mount namespace of its own, so that no mount of Kiln's outlives the process: when the
 * namespace's last process dies, kill -9 included, the kernel drops every mount in it. Without this a killed server
 * or node left its tmpfs mounts on the host until its next start, and deleting the data directory meanwhile failed
 * with "Device or resource busy".
 *
 * <p>How: first thing in {@code main}, for the commands that run sandboxes, when root: on the main thread, through
 * the FFM API, {@code unshare(CLONE_NEWNS)}, {@code mount("/", MS_REC|MS_SLAVE)} and {@code execve} of this very
 * process image ({@code /proc/self/exe}) with its exact argv ({@code /proc/self/cmdline}: JVM options, class path or
 * {@code -jar}, main class, arguments) and environment ({@code environ}) plus {@code KILN_MOUNT_NS=<pid>}. Why it
 * works in a multithreaded JVM: unshare(CLONE_NEWNS) is allowed there but moves only the calling thread (a thread's
 * namespaces are its own; it also gets its own cwd/root, CLONE_FS), which alone would split the JVM between two
 * views of the file system; execve from that thread, though, ends every other thread and the new image starts, whole,
 * in the calling thread's namespace. execve keeps the pid, parent, stdio, working directory and cgroup, so whoever
 * started Kiln (a shell, systemd, a test's {@code Process}) still holds it, and a kill -9 of that pid ends the
 * namespace with it. Why not {@code execve("unshare --mount ... -- java ...")} (the first idea): doing the unshare
 * ourselves needs no unshare(1) binary, and every failure (no CAP_SYS_ADMIN, seccomp, a missing binary) shows
 * before the point of no return, where this thread can {@code setns} back and Kiln carries on as before with a
 * warning instead of exiting.
 *
 * <p>Propagation slave: the host's mounts and unmounts still reach Kiln (a disk mounted later under the data
 * directory shows), Kiln's never reach the host. bwrap sandboxes are spawned by this process, so their namespaces
 * are children of this one; mount(8)/umount(8) run by Kiln act in it; whatever reads {@code /output} is this same
 * JVM. Stale mounts a Kiln without this (an older version, or a fallback run) left on the host are still cleaned at
 * start: they are copied into the new namespace, unmounted there, and deleting their directories afterwards
 * detaches the host's copy too (the kernel drops mounts on a removed directory in every namespace).
 *
 * <p>Also before exec: file descriptors above 2 are marked close-on-exec (the JVM's own, e.g. its jars, would
 * otherwise leak into the new image) and the signal mask is set back to the one the process started with (the JVM
 * blocks some signals in its Java threads). {@code KILN_MOUNT_NS=off} skips all of this.
 */
final class MountNamespace {
    static final String ENV = "KILN_MOUNT_NS";

    private static final int CLONE_NEWNS = 0x00020000;
    private static final long MS_REC = 0x4000;
    private static final long MS_SLAVE = 1L << 19;
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 0x80000;
    private static final int F_SETFD = 2;
    private static final int FD_CLOEXEC = 1;
    private static final int SIG_SETMASK = 2;
    private static final long SIGSET_BYTES = 128; // glibc's sigset_t: 1024 bits

    private static final Set<String> NODE_CLIENT_SUBCOMMANDS = Set.of("list", "describe", "drain", "resume");

    private MountNamespace() {
    }

    /**
     * For {@code main}, before anything else: re-executes this process in a mount namespace of its own when
     * {@code args} name a command that runs sandboxes and this process is root, Linux, and not already in one of its
     * own. Returns only when it does not (not needed, or it cannot: logged with what that costs).
     */
    static void enterOwn(String[] args) {
        if (!runsSandboxes(args)) return;
        String marker = System.getenv(ENV);
        long pid = ProcessHandle.current().pid();
        if (Long.toString(pid).equals(marker)) {
            log().info("mounts live in a mount namespace of this process's own ({}): they go when it does, kill -9 "
                    + "included", currentNamespace());
            return;
        }
        if ("off".equals(marker)) {
            log().warn("{}=off: no mount namespace of Kiln's own; {}", ENV, COST);
            return;
        }
        if (!System.getProperty("os.name", "").equals("Linux") || !isRoot()) return; // no tmpfs mounts without root
        String why;
        try {
            why = reexec(pid);
        } catch (Throwable t) { // a missing symbol, native access denied: carry on as before
            why = t.toString();
        }
        log().warn("cannot run in a mount namespace of Kiln's own ({}); {}", why, COST);
    }

    private static final String COST = "the /output tmpfs mounts (if it can make them) are made in the host's mount "
            + "namespace, so after a kill -9 they stay there until Kiln next starts on this data directory (deleting "
            + "it meanwhile fails with 'Device or resource busy')";

    /** Not a static field: the exec path never starts logging in the first image. */
    private static Logger log() {
        return LoggerFactory.getLogger(MountNamespace.class);
    }

    /** The commands that can mount: those that run sandboxes (not help, not the client commands). */
    static boolean runsSandboxes(String[] args) {
        if (args.length == 0) return false;
        for (String a : args) {
            if (a.equals("-h") || a.equals("--help") || a.equals("-V") || a.equals("--version")) return false;
        }
        return switch (args[0]) {
            case "server", "demo", "devstack", "bench" -> true;
            case "node" -> args.length > 1 && !NODE_CLIENT_SUBCOMMANDS.contains(args[1]);
            default -> false;
        };
    }

    /** {@code mnt:[inode]} of this process. */
    static String currentNamespace() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return "unknown";
        }
    }

    private static boolean isRoot() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return false;
        }
    }

    /** Does not return when it succeeds; otherwise undoes what it did and says why. */
    private static String reexec(long pid) throws Throwable {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        MemoryLayout state = Linker.Option.captureStateLayout();
        VarHandle errnoHandle = state.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        Linker.Option errno = Linker.Option.captureCallState("errno");
        MethodHandle unshare = linker.downcallHandle(libc.find("unshare").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT), errno);
        MethodHandle mount = linker.downcallHandle(libc.find("mount").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS), errno);
        MethodHandle setns = linker.downcallHandle(libc.find("setns").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), errno);
        MethodHandle open = linker.downcallHandle(libc.find("open").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), errno,
                Linker.Option.firstVariadicArg(2));
        MethodHandle close = linker.downcallHandle(libc.find("close").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        MethodHandle fcntl = linker.downcallHandle(libc.find("fcntl").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
        MethodHandle sigmask = linker.downcallHandle(libc.find("pthread_sigmask").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        MethodHandle execve = linker.downcallHandle(libc.find("execve").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), errno);
        MethodHandle strerror = linker.downcallHandle(libc.find("strerror").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, JAVA_INT));
        MemorySegment environ = libc.find("environ").orElseThrow(() -> new IllegalStateException("no environ"));

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment err = arena.allocate(state);
            // everything the exec needs, before anything changes
            List<byte[]> args = split(Files.readAllBytes(Path.of("/proc/self/cmdline")));
            if (args.isEmpty()) return "/proc/self/cmdline is empty";
            MemorySegment argv = pointers(arena, args.stream().map(a -> cString(arena, a)).toList());
            MemorySegment envp = environment(arena, environ, pid);
            MemorySegment exe = arena.allocateFrom("/proc/self/exe");
            MemorySegment startMask = arena.allocate(SIGSET_BYTES);
            startMask.set(JAVA_LONG, 0, startingSignalMask(pid));
            MemorySegment javaMask = arena.allocate(SIGSET_BYTES);

            int hostNs = (int) open.invokeExact(err, arena.allocateFrom("/proc/thread-self/ns/mnt"),
                    O_RDONLY | O_CLOEXEC, 0);
            if (hostNs < 0) return "open /proc/thread-self/ns/mnt: " + error(strerror, errnoHandle, err);
            try {
                if ((int) unshare.invokeExact(err, CLONE_NEWNS) != 0) {
                    return "unshare(CLONE_NEWNS): " + error(strerror, errnoHandle, err);
                }
                // from here on this thread is in the new namespace, the JVM's other threads are not: exec or go back
                String failed = null;
                if ((int) mount.invokeExact(err, arena.allocateFrom("none"), arena.allocateFrom("/"),
                        MemorySegment.NULL, MS_REC | MS_SLAVE, MemorySegment.NULL) != 0) {
                    failed = "mount --make-rslave /: " + error(strerror, errnoHandle, err);
                } else {
                    closeOnExec(fcntl);
                    int ignored = (int) sigmask.invokeExact(SIG_SETMASK, startMask, javaMask);
                    int rc = (int) execve.invokeExact(err, exe, argv, envp);
                    failed = "execve /proc/self/exe: " + error(strerror, errnoHandle, err) + " (" + rc + ")";
                    ignored = (int) sigmask.invokeExact(SIG_SETMASK, javaMask, MemorySegment.NULL);
                }
                if ((int) setns.invokeExact(err, hostNs, CLONE_NEWNS) != 0) {
                    // cannot happen for root after its own unshare; if it does, this thread alone sees another view
                    throw new IllegalStateException(failed + "; then setns back: " + error(strerror, errnoHandle, err));
                }
                return failed;
            } finally {
                int ignored = (int) close.invokeExact(hostNs);
            }
        }
    }

    /** The environment as the process has it, without any {@code KILN_MOUNT_NS}, plus {@code KILN_MOUNT_NS=pid}. */
    private static MemorySegment environment(Arena arena, MemorySegment environSymbol, long pid) {
        MemorySegment env = environSymbol.reinterpret(ADDRESS.byteSize()).get(ADDRESS, 0)
                .reinterpret(Long.MAX_VALUE);
        byte[] prefix = (ENV + "=").getBytes(StandardCharsets.US_ASCII);
        List<MemorySegment> out = new ArrayList<>();
        for (long i = 0; ; i++) {
            MemorySegment entry = env.getAtIndex(ADDRESS, i);
            if (entry.equals(MemorySegment.NULL)) break;
            if (!startsWith(entry.reinterpret(Long.MAX_VALUE), prefix)) out.add(entry);
        }
        out.add(arena.allocateFrom(ENV + "=" + pid));
        return pointers(arena, out);
    }

    private static boolean startsWith(MemorySegment cString, byte[] prefix) {
        for (int i = 0; i < prefix.length; i++) {
            if (cString.get(JAVA_BYTE, i) != prefix[i]) return false; // a shorter string ends with 0 first
        }
        return true;
    }

    /** The signal mask of the process's first thread (the launcher's, which only waits for the JVM): SigBlk. */
    private static long startingSignalMask(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/task/" + pid + "/status"))) {
            if (line.startsWith("SigBlk:")) return Long.parseUnsignedLong(line.substring(7).strip(), 16);
        }
        return 0;
    }

    /** Marks every descriptor above 2 close-on-exec, so only stdin, stdout and stderr reach the new image. */
    private static void closeOnExec(MethodHandle fcntl) throws Throwable {
        List<Integer> fds = new ArrayList<>();
        try (var entries = Files.list(Path.of("/proc/self/fd"))) {
            entries.forEach(p -> {
                try {
                    fds.add(Integer.parseInt(p.getFileName().toString()));
                } catch (NumberFormatException e) {
                    // not a descriptor
                }
            });
        }
        for (int fd : fds) {
            if (fd > 2) {
                int ignored = (int) fcntl.invokeExact(fd, F_SETFD, FD_CLOEXEC); // EBADF for the listing's own
            }
        }
    }

    private static String error(MethodHandle strerror, VarHandle errnoHandle, MemorySegment state) throws Throwable {
        int e = (int) errnoHandle.get(state, 0L);
        MemorySegment text = (MemorySegment) strerror.invokeExact(e);
        return text.reinterpret(256).getString(0) + " (errno " + e + ")";
    }

    private static MemorySegment cString(Arena arena, byte[] bytes) {
        MemorySegment s = arena.allocate(bytes.length + 1L);
        MemorySegment.copy(bytes, 0, s, JAVA_BYTE, 0, bytes.length);
        s.set(JAVA_BYTE, bytes.length, (byte) 0);
        return s;
    }

    /** A NULL-terminated array of pointers. */
    private static MemorySegment pointers(Arena arena, List<MemorySegment> items) {
        MemorySegment array = arena.allocate(ADDRESS, items.size() + 1L);
        for (int i = 0; i < items.size(); i++) array.setAtIndex(ADDRESS, i, items.get(i));
        array.setAtIndex(ADDRESS, items.size(), MemorySegment.NULL);
        return array;
    }

    /** NUL-separated (and NUL-terminated) bytes, as in /proc/self/cmdline. */
    static List<byte[]> split(byte[] bytes) {
        List<byte[]> out = new ArrayList<>();
        ByteArrayOutputStream cur = new ByteArrayOutputStream();
        for (byte b : bytes) {
            if (b == 0) {
                out.add(cur.toByteArray());
                cur.reset();
            } else {
                cur.write(b);
            }
        }
        if (cur.size() > 0) out.add(cur.toByteArray());
        return out;
    }
}
