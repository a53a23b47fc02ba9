package dev.kiln.sandbox;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Shared set-up for tests that run real bubblewrap sandboxes in real cgroups. */
final class SandboxTestSupport {
    private SandboxTestSupport() {
    }

    /** Skips (with the reason) where a real sandbox cannot run; everything else must work. */
    static void assumeSandboxUsable() {
        assumeTrue(Files.isExecutable(BwrapConfig.defaults().bwrap()), "bubblewrap (bwrap) is not installed");
        assumeTrue(Privileges.isRoot(), "not running as root: cgroups and setpriv need root");
        Path cg = BwrapConfig.defaults().cgroupRoot();
        boolean v2 = Files.isRegularFile(cg.resolve("cgroup.controllers"));
        boolean v1 = Files.isRegularFile(cg.resolve("memory/cgroup.procs")) && Files.isRegularFile(cg.resolve("pids/cgroup.procs"));
        assumeTrue(v1 || v2, "no usable cgroup hierarchy under " + cg);
    }

    static String uniqueParent() {
        return "kiln-test-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static JobType type(String name) {
        return JobType.defaults(name);
    }

    static JobType type(long memory, int pids, boolean network, Map<String, String> env) {
        return new JobType("test", memory, 1.0, JobType.DEFAULT_TIMEOUT, JobType.DEFAULT_MAX_TIMEOUT, pids, network,
                env, null, JobType.DEFAULT_MAX_OUTPUT, JobType.DEFAULT_TMP_SIZE);
    }

    static ExecutionRequest request(String id, String code) {
        return request(id, new JobSpec(code, null, Map.of(), "default", null), JobType.defaults("default"), 10,
                OutputLimits.DEFAULTS);
    }

    static ExecutionRequest request(String id, JobSpec spec, JobType type, int timeout, OutputLimits limits) {
        return new ExecutionRequest(id, id.replaceAll("-\\d+$", ""), 1, spec, type, timeout, limits);
    }

    /** Alive and not a zombie (a zombie has exited; it only waits to be reaped). */
    static boolean isRunning(ProcessHandle p) {
        if (!p.isAlive()) return false;
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException e) {
            return false;
        }
    }

    /** Host processes whose command line contains {@code marker} (not counting ourselves). */
    static List<Long> processesWithMarker(String marker) {
        List<Long> found = new ArrayList<>();
        try (var dirs = Files.list(Path.of("/proc"))) {
            for (Path dir : dirs.toList()) {
                String name = dir.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) continue;
                try {
                    String cmdline = new String(Files.readAllBytes(dir.resolve("cmdline")), StandardCharsets.UTF_8);
                    if (cmdline.contains(marker) && Long.parseLong(name) != ProcessHandle.current().pid()) {
                        found.add(Long.parseLong(name));
                    }
                } catch (IOException ignored) {
                    // exited meanwhile
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return found;
    }
}
