package dev.kiln.sandbox;

import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The hostile probes (gvisor/probes.py: nested user namespace, io_uring, keyctl, bpf, perf, ptrace, mount,
 * AF_PACKET, core dumps, TIOCSTI, /proc/sys and /sys writes) on the gVisor executor. Every call lands in gVisor's
 * sentry, not the host kernel; per probe, what gVisor does:
 * <ul>
 *   <li>unshare(CLONE_NEWUSER) succeeds: a user namespace of the sentry's own, in which writing uid_map is refused,
 *       so it grants nothing (no mount);</li>
 *   <li>io_uring_setup succeeds: the sentry emulates io_uring itself; the host's io_uring is never reached (the
 *       sentry's own host seccomp filter does not allow it);</li>
 *   <li>keyctl, add_key: EACCES (gVisor has no keyrings beyond a stub); bpf: EPERM; perf_event_open: ENODEV;</li>
 *   <li>ptrace of the job's own child succeeds: emulated by the sentry between two of its tasks;</li>
 *   <li>mount: EPERM (no CAP_SYS_ADMIN); AF_PACKET: EPERM (no CAP_NET_RAW, and --network=none);</li>
 *   <li>RLIMIT_CORE 0 and a core dump never leaves the sentry; TIOCSTI on stdin (/dev/null): ENOTTY;</li>
 *   <li>writes to /proc/sys, /proc/sysrq-trigger and gVisor's synthetic /sys fail.</li>
 * </ul>
 * Host side: its hostname and core_pattern are unchanged, no core file appears, nothing of the sandbox is left.
 */
class GvisorHostileProbesTest extends GvisorTestBase {
    private static String probes;

    @BeforeAll
    static void loadProbes() throws IOException {
        try (InputStream in = GvisorHostileProbesTest.class.getResourceAsStream("/gvisor/probes.py")) {
            probes = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void everyProbeFailsOrStaysInsideGvisorsKernel() throws IOException {
        String hostname = Files.readString(Path.of("/proc/sys/kernel/hostname"));
        String corePattern = Files.readString(Path.of("/proc/sys/kernel/core_pattern"));
        ExecutionResult r = run(spec(probes), JobType.defaults("default"), 20, OutputLimits.DEFAULTS);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        Map<String, String> outcome = new LinkedHashMap<>();
        r.stdout().lines().filter(l -> l.contains(": "))
                .forEach(l -> outcome.put(l.substring(0, l.indexOf(": ")), l.substring(l.indexOf(": ") + 2)));
        assertThat(outcome).containsEntry("userns", "ok, then mount: map PermissionError")
                .containsEntry("io_uring_setup", "ok")
                .containsEntry("keyctl", "EACCES")
                .containsEntry("add_key", "EACCES")
                .containsEntry("bpf", "EPERM")
                .containsEntry("perf_event_open", "ENODEV")
                .containsEntry("ptrace_attach_child", "ok")
                .containsEntry("mount", "EPERM")
                .containsEntry("af_packet", "EPERM")
                .containsEntry("core_rlimit", "(0, 0)")
                .containsEntry("abort", "signal 6 core False files []")
                .containsEntry("tiocsti", "ENOTTY");
        for (String path : new String[]{"/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger",
                "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/fs/cgroup/cgroup.procs"}) {
            assertThat(outcome.get("write " + path)).as("write " + path).isNotNull().isNotEqualTo("ok");
        }
        assertThat(Files.readString(Path.of("/proc/sys/kernel/hostname"))).isEqualTo(hostname);
        assertThat(Files.readString(Path.of("/proc/sys/kernel/core_pattern"))).isEqualTo(corePattern);
        assertThat(r.artifacts()).isEmpty();
    }
}
