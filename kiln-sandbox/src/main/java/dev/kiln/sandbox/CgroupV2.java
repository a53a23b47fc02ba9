package dev.kiln.sandbox;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Cgroup v2 (unified): Kiln's parent is {@code <root>/<parent>} with memory, pids (and cpu when available) enabled
 * in the root's and the parent's {@code cgroup.subtree_control}; one execution is {@code <root>/<parent>/<name>}.
 */
final class CgroupV2 implements Cgroups {
    private static final Logger log = LoggerFactory.getLogger(CgroupV2.class);
    static final List<String> REQUIRED = List.of("memory", "pids");

    private final Path parent;

    CgroupV2(Path root, String parentName) throws IOException {
        CgroupFiles.checkName("cgroup parent", parentName);
        Set<String> available = controllers(root.resolve("cgroup.controllers"));
        if (!available.containsAll(REQUIRED)) {
            throw new IOException("cgroup v2 at " + root + " lacks the memory or pids controller: " + available);
        }
        enableControllers(root, available);
        this.parent = root.resolve(parentName);
        Files.createDirectories(parent);
        enableControllers(parent, available);
    }

    static Set<String> controllers(Path file) throws IOException {
        return Arrays.stream(CgroupFiles.read(file).trim().split("\\s+"))
                .filter(s -> !s.isEmpty()).collect(Collectors.toSet());
    }

    /** One controller per write: a missing cpu controller must not prevent memory and pids. */
    private static void enableControllers(Path dir, Set<String> available) throws IOException {
        Path control = dir.resolve("cgroup.subtree_control");
        for (String c : List.of("memory", "pids", "cpu")) {
            if (!available.contains(c)) continue;
            try {
                CgroupFiles.write(control, "+" + c);
            } catch (IOException e) {
                if (REQUIRED.contains(c)) {
                    throw new IOException("cannot enable the " + c + " controller in " + control + ": " + e, e);
                }
                log.warn("cannot enable the {} controller in {} (no CPU quota): {}", c, control, e.toString());
            }
        }
    }

    @Override
    public String version() {
        return "v2";
    }

    Path parent() {
        return parent;
    }

    @Override
    public Cgroup create(String name, CgroupLimits limits) throws IOException {
        Path dir = parent.resolve(CgroupFiles.checkName("cgroup", name));
        Files.createDirectory(dir);
        try {
            applyLimits(dir, limits);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(dir);
            } catch (IOException ignored) {
                // removeStale() will find it
            }
            throw e;
        }
        return new Group(dir);
    }

    /** memory.max with swap off, pids.max, cpu.max "quota period" (when the cpu controller is enabled). */
    static void applyLimits(Path dir, CgroupLimits limits) throws IOException {
        if (limits.memoryBytes() > 0) CgroupFiles.write(dir.resolve("memory.max"), Long.toString(limits.memoryBytes()));
        Path swap = dir.resolve("memory.swap.max");
        if (Files.exists(swap)) CgroupFiles.write(swap, "0");
        CgroupFiles.write(dir.resolve("pids.max"), limits.pidsMax() > 0 ? Integer.toString(limits.pidsMax()) : "max");
        Path cpu = dir.resolve("cpu.max");
        if (Files.exists(cpu)) {
            long quota = limits.cpuQuotaUs();
            CgroupFiles.write(cpu, (quota < 0 ? "max" : Long.toString(quota)) + " " + CgroupLimits.CPU_PERIOD_US);
        }
    }

    @Override
    public Cgroup existing(String name) {
        return new Group(parent.resolve(CgroupFiles.checkName("cgroup", name)));
    }

    @Override
    public List<String> children() {
        return CgroupFiles.childDirectories(parent);
    }

    @Override
    public int removeStale() {
        int removed = 0;
        for (String name : children()) {
            Cgroup g = new Group(parent.resolve(name)); // a listed name is one path segment
            if (!g.killAndAwaitEmpty(Duration.ofSeconds(5))) {
                log.error("stale cgroup {} still has processes after kill; leaving it", name);
                continue;
            }
            try {
                g.remove();
                removed++;
            } catch (IOException e) {
                log.error("cannot remove stale cgroup {}: {}", name, e.toString());
            }
        }
        return removed;
    }

    @Override
    public void close() {
        try {
            Files.deleteIfExists(parent);
        } catch (IOException e) {
            log.warn("cgroup parent {} not removed (still has children?): {}", parent, e.toString());
        }
    }

    static final class Group implements Cgroup {
        private final Path dir;

        Group(Path dir) {
            this.dir = dir;
        }

        @Override
        public String name() {
            return dir.getFileName().toString();
        }

        @Override
        public List<Path> procsFiles() {
            return List.of(dir.resolve("cgroup.procs"));
        }

        @Override
        public boolean isEmpty() {
            return CgroupFiles.readPids(dir.resolve("cgroup.procs")).isEmpty();
        }

        /** cgroup.kill (Linux 5.14+) kills the whole subtree atomically; older kernels get freeze + kill loop. */
        @Override
        public void signalKill() {
            Path kill = dir.resolve("cgroup.kill");
            if (Files.exists(kill)) {
                try {
                    CgroupFiles.write(kill, "1");
                    return;
                } catch (IOException e) {
                    // fall through to the kill loop
                }
            }
            Path freeze = dir.resolve("cgroup.freeze");
            boolean frozen = false;
            try {
                if (Files.exists(freeze)) {
                    CgroupFiles.write(freeze, "1");
                    frozen = true;
                }
            } catch (IOException ignored) {
                // kill without freezing
            }
            try {
                for (long pid : CgroupFiles.readPids(dir.resolve("cgroup.procs"))) CgroupFiles.kill(pid);
            } finally {
                if (frozen) {
                    try {
                        CgroupFiles.write(freeze, "0");
                    } catch (IOException ignored) {
                        // removed meanwhile
                    }
                }
            }
        }

        @Override
        public boolean killAndAwaitEmpty(Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                if (isEmpty()) return true;
                signalKill();
                if (isEmpty()) return true;
                if (System.nanoTime() > deadline) return false;
                CgroupFiles.sleepQuietly(5);
            }
        }

        @Override
        public CgroupStats stats() {
            return new CgroupStats(CgroupFiles.readKeyed(dir.resolve("memory.events"), "oom_kill"),
                    CgroupFiles.readKeyed(dir.resolve("pids.events"), "max"));
        }

        @Override
        public void remove() throws IOException {
            CgroupV1.removeDir(dir);
        }
    }
}
