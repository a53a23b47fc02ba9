package dev.kiln.sandbox;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Cgroup v1: one hierarchy per controller ({@code <root>/memory}, {@code <root>/pids}, {@code <root>/cpu},
 * {@code <root>/freezer}); Kiln's parent is {@code <root>/<controller>/<parent>} in each, and one execution is the
 * same-named child in each. memory and pids are required; cpu and freezer are used when mounted.
 */
final class CgroupV1 implements Cgroups {
    private static final Logger log = LoggerFactory.getLogger(CgroupV1.class);
    static final List<String> REQUIRED = List.of("memory", "pids");
    static final List<String> OPTIONAL = List.of("cpu", "freezer");
    private static final Duration FREEZE_WAIT = Duration.ofMillis(500);
    private static final long FREEZE_POLL_NANOS = 200_000;

    private final Path root;
    private final String parentName;
    // controller -> Kiln's parent directory in that controller's hierarchy
    private final Map<String, Path> parents = new LinkedHashMap<>();

    CgroupV1(Path root, String parentName) throws IOException {
        this.root = root;
        this.parentName = CgroupFiles.checkName("cgroup parent", parentName);
        for (String c : REQUIRED) parents.put(c, root.resolve(c).resolve(parentName));
        for (String c : OPTIONAL) {
            if (Files.exists(root.resolve(c).resolve("cgroup.procs"))) {
                parents.put(c, root.resolve(c).resolve(parentName));
            } else {
                log.warn("cgroup v1 controller '{}' is not mounted at {}: {}", c, root.resolve(c),
                        c.equals("cpu") ? "no CPU quota" : "killing falls back to a plain kill loop");
            }
        }
        for (Path p : parents.values()) Files.createDirectories(p);
    }

    @Override
    public String version() {
        return "v1";
    }

    Path root() {
        return root;
    }

    @Override
    public Cgroup create(String name, CgroupLimits limits) throws IOException {
        CgroupFiles.checkName("cgroup", name);
        Group group = group(name);
        List<Path> made = new ArrayList<>();
        try {
            for (Path dir : group.dirs.values()) {
                Files.createDirectory(dir);
                made.add(dir);
            }
            applyLimits(group, limits);
        } catch (IOException | RuntimeException e) {
            for (Path dir : made.reversed()) {
                try {
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // best effort: a later removeStale() will find it
                }
            }
            throw e;
        }
        return group;
    }

    private static void applyLimits(Group g, CgroupLimits limits) throws IOException {
        Path memory = g.dirs.get("memory");
        if (limits.memoryBytes() > 0) {
            String bytes = Long.toString(limits.memoryBytes());
            // limit first: memsw must never be below it
            CgroupFiles.write(memory.resolve("memory.limit_in_bytes"), bytes);
            Path memsw = memory.resolve("memory.memsw.limit_in_bytes");
            if (Files.exists(memsw)) CgroupFiles.write(memsw, bytes);
        }
        CgroupFiles.write(g.dirs.get("pids").resolve("pids.max"),
                limits.pidsMax() > 0 ? Integer.toString(limits.pidsMax()) : "max");
        Path cpu = g.dirs.get("cpu");
        if (cpu != null) {
            CgroupFiles.write(cpu.resolve("cpu.cfs_period_us"), Long.toString(CgroupLimits.CPU_PERIOD_US));
            CgroupFiles.write(cpu.resolve("cpu.cfs_quota_us"), Long.toString(limits.cpuQuotaUs()));
        }
    }

    @Override
    public Cgroup existing(String name) {
        return group(CgroupFiles.checkName("cgroup", name));
    }

    private Group group(String name) {
        Map<String, Path> dirs = new LinkedHashMap<>();
        parents.forEach((c, p) -> dirs.put(c, p.resolve(name)));
        return new Group(name, dirs);
    }

    @Override
    public List<String> children() {
        TreeSet<String> names = new TreeSet<>();
        for (Path p : parents.values()) names.addAll(CgroupFiles.childDirectories(p));
        return List.copyOf(names);
    }

    @Override
    public int removeStale() {
        int removed = 0;
        for (String name : children()) {
            Cgroup g = group(name);
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
        for (Path p : parents.values()) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                log.warn("cgroup parent {} not removed (still has children?): {}", p, e.toString());
            }
        }
    }

    /** One execution: the same-named directory under Kiln's parent in every controller. */
    static final class Group implements Cgroup {
        private final String name;
        private final Map<String, Path> dirs;

        Group(String name, Map<String, Path> dirs) {
            this.name = name;
            this.dirs = dirs;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public List<Path> procsFiles() {
            return dirs.values().stream().map(d -> d.resolve("cgroup.procs")).toList();
        }

        private List<Long> pids() {
            TreeSet<Long> pids = new TreeSet<>();
            for (Path procs : procsFiles()) pids.addAll(CgroupFiles.readPids(procs));
            return List.copyOf(pids);
        }

        @Override
        public boolean isEmpty() {
            return pids().isEmpty();
        }

        /** Freeze first so a fork bomb cannot outrun the kill loop, SIGKILL everything, thaw so signals land. */
        @Override
        public void signalKill() {
            Path freezer = dirs.get("freezer");
            boolean frozen = freezer != null && freeze(freezer.resolve("freezer.state"));
            try {
                for (long pid : pids()) CgroupFiles.kill(pid);
            } finally {
                if (frozen) {
                    try {
                        CgroupFiles.write(freezer.resolve("freezer.state"), "THAWED");
                    } catch (IOException ignored) {
                        // cgroup already removed
                    }
                }
            }
        }

        private static boolean freeze(Path state) {
            long deadline = System.nanoTime() + FREEZE_WAIT.toNanos();
            try {
                do {
                    CgroupFiles.write(state, "FROZEN");
                    if (CgroupFiles.read(state).trim().equals("FROZEN")) return true;
                    // FREEZING usually ends within a few hundred us; polling every 2 ms instead cost a job's
                    // cleanup 1.7 ms at p90 (docs/benchmarks.md)
                    CgroupFiles.sleepQuietlyNanos(FREEZE_POLL_NANOS);
                } while (System.nanoTime() < deadline);
                return true; // still FREEZING: kill anyway, and thaw afterwards
            } catch (IOException e) {
                return false;
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
            return new CgroupStats(CgroupFiles.readKeyed(dirs.get("memory").resolve("memory.oom_control"), "oom_kill"),
                    CgroupFiles.readKeyed(dirs.get("pids").resolve("pids.events"), "max"));
        }

        @Override
        public void remove() throws IOException {
            IOException first = null;
            for (Path dir : dirs.values()) {
                try {
                    removeDir(dir);
                } catch (IOException e) {
                    if (first == null) first = e;
                }
            }
            if (first != null) throw first;
        }
    }

    /** rmdir, retried briefly: the kernel may report EBUSY for a moment after the last task exited. */
    static void removeDir(Path dir) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                Files.deleteIfExists(dir);
                return;
            } catch (IOException e) {
                if (attempt >= 50) throw e;
                CgroupFiles.sleepQuietly(10);
            }
        }
    }
}
