package dev.kiln.sandbox;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The host directory behind {@code /output}. As root it is a size-capped tmpfs owned by the sandbox user, so the
 * {@code /output} cap holds while the job runs (and its pages are charged to the job's memory cgroup). Without
 * mount rights it is a plain directory and the cap is enforced only when reading it back.
 */
final class OutputMount implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OutputMount.class);
    private static final AtomicBoolean loggedFallback = new AtomicBoolean();
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(10);
    // tmpfs size=0 means "unlimited": never pass it
    private static final long MIN_SIZE = 4096;

    private final Path dir;
    private final Path umount;
    private final boolean mounted;
    private final boolean direct; // mounted with mount(2): unmounted with umount2(2)
    private long sizeBytes;

    private OutputMount(Path dir, Path umount, boolean mounted, long sizeBytes) {
        this(dir, umount, mounted, sizeBytes, false);
    }

    private OutputMount(Path dir, Path umount, boolean mounted, long sizeBytes, boolean direct) {
        this.direct = direct;
        this.dir = dir;
        this.umount = umount;
        this.mounted = mounted;
        this.sizeBytes = sizeBytes;
    }

    private static long tmpfsSize(long maxBytes) {
        return Math.max(MIN_SIZE, maxBytes);
    }

    /**
     * {@code dir} must exist and be empty. {@code hostUid}: the sandbox's uid, owner of the tmpfs (Kiln is root);
     * -1: Kiln is not root, a plain directory of Kiln's own.
     */
    static OutputMount prepare(Path dir, long maxBytes, int hostUid, Path mount, Path umount) throws IOException {
        if (hostUid >= 0) {
            String options = "size=" + tmpfsSize(maxBytes) + ",uid=" + hostUid + ",gid=" + hostUid
                    + ",mode=0700,nosuid,nodev";
            var outcome = HostCommand.run(List.of(mount.toString(), "-t", "tmpfs", "-o", options, "tmpfs",
                    dir.toString()), TOOL_TIMEOUT);
            if (outcome.ok()) return new OutputMount(dir, umount, true, tmpfsSize(maxBytes));
            logFallback("mount of a tmpfs on " + dir + " failed: " + outcome.output());
            Files.setAttribute(dir, "unix:uid", hostUid);
            Files.setAttribute(dir, "unix:gid", hostUid);
        } else {
            // unprivileged bwrap maps our own uid to 65534 inside, so our own 0700 directory is writable
            logFallback("not running as root");
        }
        Files.setPosixFilePermissions(dir, WorkDirLayout.DIR_700);
        return new OutputMount(dir, umount, false, 0);
    }

    /**
     * The sandbox's read-only view ({@code input/}, {@code code/}, {@code etc/}; see {@link WorkDirLayout#view()}) on
     * a tmpfs of its own, owned by Kiln (0755): the binds a job sees in {@code /proc/self/mountinfo} then name paths
     * inside that tmpfs ({@code /input}) instead of the host path of the work dir (data directory, execution id).
     * Only Kiln writes there (the job's inputs, already within the request limits). {@code root} false, or a failed
     * mount: a plain directory, and the host path shows.
     */
    static OutputMount prepareView(Path dir, boolean root, Path mount, Path umount) throws IOException {
        if (root) {
            try {
                TmpfsMounts.mount("kiln", dir, TmpfsMounts.MS_NOSUID | TmpfsMounts.MS_NODEV, "mode=0755");
                return new OutputMount(dir, umount, true, 0, true);
            } catch (IOException e) {
                log.warn("{}: the job sees the work dir's host path in its mountinfo", e.getMessage());
            }
        }
        return new OutputMount(dir, umount, false, 0);
    }

    /**
     * Makes a mounted, still empty tmpfs hold at most {@code maxBytes} (a warm sandbox's /output, mounted before its
     * job's limit was known): a remount changes the size of the one superblock the sandbox's bind shows too. No-op
     * when not mounted or already that size.
     */
    void resize(long maxBytes, Path mount) throws IOException {
        long size = tmpfsSize(maxBytes);
        if (!mounted || size == sizeBytes) return;
        var outcome = HostCommand.run(List.of(mount.toString(), "-o", "remount,size=" + size, dir.toString()),
                TOOL_TIMEOUT);
        if (!outcome.ok()) {
            throw new IOException("remount of " + dir + " with size " + size + " failed: " + outcome.output());
        }
        sizeBytes = size;
    }

    /**
     * Lazily unmounts every tmpfs mounted strictly below {@code workRoot}: the /output mounts of executions a crashed
     * run never finished, which would otherwise make their work dirs impossible to delete.
     */
    static int unmountStale(Path workRoot, Path umount) {
        Path root;
        List<String> lines;
        try {
            root = workRoot.toRealPath();
            lines = Files.readAllLines(Path.of("/proc/self/mountinfo"));
        } catch (IOException e) {
            return 0;
        }
        List<Path> stale = new ArrayList<>();
        for (String line : lines) {
            String[] fields = line.split(" ");
            int dash = Arrays.asList(fields).indexOf("-");
            if (fields.length < 5 || dash < 0 || dash + 1 >= fields.length || !fields[dash + 1].equals("tmpfs")) continue;
            Path mountPoint = Path.of(unescape(fields[4]));
            if (mountPoint.startsWith(root) && !mountPoint.equals(root)) stale.add(mountPoint);
        }
        // deepest first
        stale.sort(Comparator.comparingInt(Path::getNameCount).reversed());
        int removed = 0;
        for (Path p : stale) {
            var outcome = HostCommand.run(List.of(umount.toString(), "-l", p.toString()), TOOL_TIMEOUT);
            if (outcome.ok()) {
                removed++;
            } else {
                log.error("cannot unmount stale {}: {}", p, outcome.output());
            }
        }
        if (removed > 0) log.warn("unmounted {} stale /output tmpfs mount(s) under {}", removed, root);
        return removed;
    }

    /** mountinfo escapes space, tab, newline and backslash as \ooo. */
    static String unescape(String field) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && i + 3 < field.length() && field.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static void logFallback(String why) {
        if (loggedFallback.compareAndSet(false, true)) {
            log.warn("/output is a plain directory ({}): its size cap is enforced only when collecting", why);
        }
    }

    boolean mounted() {
        return mounted;
    }

    Path dir() {
        return dir;
    }

    /** umount, then a lazy umount if something still holds it; never throws. */
    @Override
    public void close() {
        if (!mounted) return;
        if (direct) {
            try {
                TmpfsMounts.umount(dir, false);
            } catch (IOException e) {
                try {
                    TmpfsMounts.umount(dir, true);
                } catch (IOException lazy) {
                    log.error("cannot unmount {}: {} / {}", dir, e.getMessage(), lazy.getMessage());
                }
            }
            return;
        }
        var outcome = HostCommand.run(List.of(umount.toString(), dir.toString()), TOOL_TIMEOUT);
        if (outcome.ok()) return;
        var lazy = HostCommand.run(List.of(umount.toString(), "-l", dir.toString()), TOOL_TIMEOUT);
        if (!lazy.ok()) log.error("cannot unmount {}: {} / {}", dir, outcome.output(), lazy.output());
    }
}
