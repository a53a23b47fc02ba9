package dev.kiln.sandbox;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * Picks the cgroup version to use. v2 only when the root itself is a cgroup2 mount with memory and pids (a hybrid
 * host's empty cgroup2 at {@code /sys/fs/cgroup/unified} is deliberately ignored); else v1 when the memory and pids
 * hierarchies are mounted.
 */
final class CgroupDetector {
    private static final Logger log = LoggerFactory.getLogger(CgroupDetector.class);
    static final Path DEFAULT_ROOT = Path.of("/sys/fs/cgroup");

    private CgroupDetector() {
    }

    static Cgroups detect(Path root, String parentName) {
        Path controllers = root.resolve("cgroup.controllers");
        try {
            if (Files.isRegularFile(controllers)) {
                Set<String> available = CgroupV2.controllers(controllers);
                if (available.containsAll(CgroupV2.REQUIRED)) {
                    Cgroups v2 = new CgroupV2(root, parentName);
                    log.info("using cgroup v2 at {}/{}", root, parentName);
                    return v2;
                }
            }
            if (Files.isRegularFile(root.resolve("memory/cgroup.procs"))
                    && Files.isRegularFile(root.resolve("pids/cgroup.procs"))) {
                Cgroups v1 = new CgroupV1(root, parentName);
                log.info("using cgroup v1 at {}/<controller>/{}", root, parentName);
                return v1;
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot set up Kiln's cgroup '" + parentName + "' under " + root
                    + " (the bwrap executor must run as root or with a delegated cgroup): " + e, e);
        }
        throw new IllegalStateException("no usable cgroup hierarchy: need cgroup v2 with the memory and pids "
                + "controllers (" + controllers + ") or cgroup v1 memory and pids hierarchies (" + root.resolve("memory")
                + ", " + root.resolve("pids") + ")");
    }

    /**
     * Read-only, for {@code kiln doctor}: what {@link #detect} would pick at {@code root} ("v2" or "v1") and the
     * controllers it offers, or null when neither is usable. Creates nothing.
     */
    static Detected inspect(Path root) {
        Path controllers = root.resolve("cgroup.controllers");
        try {
            if (Files.isRegularFile(controllers)) {
                Set<String> available = CgroupV2.controllers(controllers);
                if (available.containsAll(CgroupV2.REQUIRED)) return new Detected("v2", new java.util.TreeSet<>(available));
            }
        } catch (IOException e) {
            // unreadable: fall through to v1
        }
        Set<String> v1 = new java.util.TreeSet<>();
        for (String c : java.util.List.of("memory", "pids", "cpu", "freezer")) {
            if (Files.isRegularFile(root.resolve(c).resolve("cgroup.procs"))) v1.add(c);
        }
        return v1.containsAll(Set.of("memory", "pids")) ? new Detected("v1", v1) : new Detected(null, v1);
    }

    /** {@code version} null: no usable hierarchy ({@code controllers}: the v1 ones found anyway). */
    record Detected(String version, Set<String> controllers) {
    }
}
