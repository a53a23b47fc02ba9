package dev.kiln.sandbox;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where the bwrap executor finds its tools and which cgroup parent it owns.
 *
 * @param bwrap        the bubblewrap binary on the host
 * @param setpriv      used (only when Kiln runs as root) to drop to the sandbox's own uid before bwrap starts
 * @param python       the interpreter path; it must lie under {@code /usr}, the only host tree the sandbox sees
 * @param mount        mount(8), for the size-capped tmpfs behind {@code /output}
 * @param umount       umount(8)
 * @param cgroupRoot   the cgroup filesystem root, normally {@code /sys/fs/cgroup}
 * @param cgroupParent the name of Kiln's own parent cgroup; one executor per name per host (it removes stale
 *                     children at start)
 * @param uidRange     the host uids sandboxes run as when Kiln is root, one per live sandbox (see
 *                     {@link SandboxUids})
 */
public record BwrapConfig(Path bwrap, Path setpriv, Path python, Path mount, Path umount, Path cgroupRoot,
                          String cgroupParent, SandboxUidRange uidRange) {
    public static final String DEFAULT_CGROUP_PARENT = "kiln";

    public BwrapConfig {
        Objects.requireNonNull(bwrap, "bwrap");
        Objects.requireNonNull(setpriv, "setpriv");
        Objects.requireNonNull(python, "python");
        Objects.requireNonNull(mount, "mount");
        Objects.requireNonNull(umount, "umount");
        Objects.requireNonNull(cgroupRoot, "cgroupRoot");
        Objects.requireNonNull(cgroupParent, "cgroupParent");
        if (uidRange == null) uidRange = SandboxUidRange.DEFAULT;
    }

    /** With {@link SandboxUidRange#DEFAULT}. */
    public BwrapConfig(Path bwrap, Path setpriv, Path python, Path mount, Path umount, Path cgroupRoot,
                       String cgroupParent) {
        this(bwrap, setpriv, python, mount, umount, cgroupRoot, cgroupParent, SandboxUidRange.DEFAULT);
    }

    /** Debian 12 paths: /usr/bin/{bwrap,setpriv,python3,mount,umount}, /sys/fs/cgroup, parent "kiln". */
    public static BwrapConfig defaults() {
        return new BwrapConfig(Path.of("/usr/bin/bwrap"), Path.of("/usr/bin/setpriv"), Path.of("/usr/bin/python3"),
                Path.of("/usr/bin/mount"), Path.of("/usr/bin/umount"), Path.of("/sys/fs/cgroup"),
                DEFAULT_CGROUP_PARENT);
    }

    /**
     * A parent of its own for a throw-away run ({@code prefix-xxxxxxxx}): a demo, a bench or a test never meets the
     * parent of a Kiln already running on the host (one Kiln per parent, see {@code CgroupParentClaim}).
     */
    public static String throwAwayCgroupParent(String prefix) {
        return prefix + "-" + java.util.UUID.randomUUID().toString().substring(0, 8);
    }

    public BwrapConfig withCgroupParent(String name) {
        return new BwrapConfig(bwrap, setpriv, python, mount, umount, cgroupRoot, name, uidRange);
    }

    public BwrapConfig withPython(Path interpreter) {
        return new BwrapConfig(bwrap, setpriv, interpreter, mount, umount, cgroupRoot, cgroupParent, uidRange);
    }

    public BwrapConfig withUidRange(SandboxUidRange range) {
        return new BwrapConfig(bwrap, setpriv, python, mount, umount, cgroupRoot, cgroupParent, range);
    }
}
