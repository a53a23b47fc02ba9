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
 * sources as the sandbox user (uid 65534), so every directory above them must be searchable by others. The data
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
        String key = HexFormat.of().formatHex(dev.kiln.core.SpecHash.sha256().digest(
                abs.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8))).substring(0, 16);
        Path base = Path.of("/var/tmp/kiln");
        create(base);
        Path root = base.resolve(key);
        create(root);
        return root;
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
