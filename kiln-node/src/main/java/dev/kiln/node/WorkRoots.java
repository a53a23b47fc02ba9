package dev.kiln.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Set;

/**
 * Where what sandboxes bind-mount lives (execution work dirs, job-type layers). bubblewrap resolves its bind
 * sources as the sandbox's own uid (one per sandbox, from the uid range), so every directory above them must be
 * searchable by others. The data
 * directory is used when that holds (the data directory itself is made searchable, not listable); otherwise, e.g.
 * under /root or a 0700 temp dir, a directory of its own under /var/tmp/kiln.
 */
public final class WorkRoots {
    private static final Set<PosixFilePermission> SEARCHABLE = PosixFilePermissions.fromString("rwx--x--x");

    private WorkRoots() {
    }

    /** The directory to put {@code work/} and {@code layers/} in, for this data directory. */
    public static Path sandboxVisibleRoot(Path dataDir) throws IOException {
        Path abs = dataDir.toAbsolutePath().normalize();
        if (ancestorsSearchable(abs.getParent())) {
            addSearch(abs);
            return abs;
        }
        create(FALLBACK_BASE);
        Path root = fallbackRoot(abs);
        create(root);
        return root;
    }

    private static final Path FALLBACK_BASE = Path.of("/var/tmp/kiln");

    /** Where a data directory that sandboxes cannot reach keeps its sandbox-visible files (not created here). */
    private static Path fallbackRoot(Path absoluteDataDir) {
        String key = HexFormat.of().formatHex(dev.kiln.core.SpecHash.sha256().digest(
                absoluteDataDir.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8))).substring(0, 16);
        return FALLBACK_BASE.resolve(key);
    }

    /**
     * Deletes a directory tree holding throw-away data directories (a benchmark's, a demo's, a test's), with the
     * directories under /var/tmp/kiln that {@link #sandboxVisibleRoot} gave any of them.
     */
    public static void discardTree(Path tree) throws IOException {
        if (!Files.exists(tree)) return;
        try (var dirs = Files.walk(tree)) {
            for (Path d : dirs.filter(Files::isDirectory).toList()) {
                Path root = fallbackRoot(d.toAbsolutePath().normalize());
                if (Files.isDirectory(root)) discardFallbackRoot(root);
            }
        }
        dev.kiln.sandbox.FileTrees.deleteRecursively(tree);
    }

    /**
     * Removes the directory {@link #sandboxVisibleRoot} gave a data directory that is being discarded, when it is one
     * of its own under /var/tmp/kiln (a data directory used in place is left alone). Unmounts what a killed process
     * left mounted under it first. For tools and tests that throw a data directory away.
     */
    public static void discardFallbackRoot(Path dataDir) throws IOException {
        Path abs = dataDir.toAbsolutePath().normalize();
        Path root = abs.startsWith(FALLBACK_BASE) ? abs : fallbackRoot(abs);
        if (!Files.isDirectory(root)) return;
        for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
            String[] f = line.split(" ");
            String mountPoint = f.length > 1 ? f[1].replace("\\040", " ") : "";
            if (!mountPoint.isEmpty() && Path.of(mountPoint).startsWith(root)) {
                try {
                    new ProcessBuilder("umount", "-l", mountPoint).redirectErrorStream(true)
                            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while unmounting " + mountPoint, e);
                }
            }
        }
        dev.kiln.sandbox.FileTrees.deleteRecursively(root);
    }

    /** Creates the directory (and missing parents) as rwx--x--x. */
    static void create(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, SEARCHABLE);
    }

    private static boolean ancestorsSearchable(Path dir) throws IOException {
        for (Path p = dir; p != null; p = p.getParent()) {
            if (!Files.exists(p)) continue;
            if (!Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE)) return false;
        }
        return true;
    }

    private static void addSearch(Path dir) throws IOException {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir);
        if (perms.add(PosixFilePermission.OTHERS_EXECUTE)) Files.setPosixFilePermissions(dir, perms);
    }
}
