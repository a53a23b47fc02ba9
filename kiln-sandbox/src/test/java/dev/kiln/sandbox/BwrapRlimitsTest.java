package dev.kiln.sandbox;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** The rlimits a real bwrap job runs with, and what a write past RLIMIT_FSIZE becomes. */
class BwrapRlimitsTest {
    @TempDir
    Path temp;

    private BwrapExecutor executor;

    @BeforeEach
    void setUp() throws IOException {
        SandboxTestSupport.assumeSandboxUsable();
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        executor = new BwrapExecutor(BwrapConfig.defaults().withCgroupParent(SandboxTestSupport.uniqueParent()));
    }

    @AfterEach
    void tearDown() {
        if (executor != null) executor.close();
    }

    private ExecutionResult run(String code, OutputLimits limits) throws IOException {
        String id = "rl" + UUID.randomUUID().toString().substring(0, 8) + "-1";
        Path workDir = Files.createDirectory(temp.resolve(id));
        JobType type = JobType.defaults("rlimits");
        return executor.execute(SandboxTestSupport.request(id, JobSpec.python(code), type, 20, limits), workDir);
    }

    @Test
    void jobsRunWithHardLimits() throws IOException {
        ExecutionResult r = run("""
                import resource
                for name in ("RLIMIT_CORE", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_NPROC"):
                    print(name, *resource.getrlimit(getattr(resource, name)))
                """, OutputLimits.DEFAULTS);
        assertThat(r.status()).as(r.stderr()).isEqualTo(JobStatus.SUCCEEDED);
        long fsize = Math.max(OutputLimits.DEFAULTS.maxOutputDirBytes(), JobType.DEFAULT_TMP_SIZE);
        // NPROC: the sandbox's pids limit and bubblewrap's own, for the host uid that is this sandbox's alone
        long nproc = JobType.defaults("x").pidsLimit() + SandboxRlimits.BWRAP_PROCESSES;
        assertThat(r.stdout()).isEqualTo("RLIMIT_CORE 0 0\nRLIMIT_NOFILE 1024 1024\nRLIMIT_FSIZE " + fsize + " "
                + fsize + "\nRLIMIT_NPROC " + nproc + " " + nproc + "\n");
    }

    @Test
    void aWarmSandboxStartedForASmallerCapIsNotHandedALargerOne(@TempDir Path warmTemp) throws IOException {
        Files.setPosixFilePermissions(warmTemp, PosixFilePermissions.fromString("rwx--x--x"));
        JobType type = JobType.defaults("rlimits-warm");
        try (BwrapExecutor warm = new BwrapExecutor(BwrapConfig.defaults().withCgroupParent(
                SandboxTestSupport.uniqueParent()), null, warmTemp.resolve("warm"))) {
            warm.configurePool(type, null, PoolSettings.of(1));
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
                    .until(() -> warm.poolStats().getFirst().ready() >= 1);
            long big = 256L << 20; // above the pool's cap (64 MiB) and the type's /tmp (64 MiB)
            OutputLimits limits = new OutputLimits(64L << 10, 64L << 10, big, 16L << 20, 100);
            String id = "rlw" + UUID.randomUUID().toString().substring(0, 8) + "-1";
            ExecutionResult r = warm.execute(SandboxTestSupport.request(id, JobSpec.python(
                    "import resource\nprint(*resource.getrlimit(resource.RLIMIT_FSIZE))\n"), type, 20, limits),
                    Files.createDirectory(warmTemp.resolve(id)));
            assertThat(r.status()).as(r.stderr()).isEqualTo(JobStatus.SUCCEEDED);
            assertThat(r.stdout()).isEqualTo(big + " " + big + "\n");
            WarmPoolStats stats = warm.poolStats().getFirst();
            assertThat(stats.hits()).isZero();
            assertThat(stats.discards()).isEqualTo(1);
        }
    }

    @Test
    void withTheNetworkOnlyNetlinkRouteSocketsAreAddedToTheFilter() throws IOException {
        // sockets are created and closed; no traffic is sent anywhere
        JobType networked = new JobType("net", JobType.DEFAULT_MEMORY, 1.0, JobType.DEFAULT_TIMEOUT,
                JobType.DEFAULT_MAX_TIMEOUT, JobType.DEFAULT_PIDS, true, java.util.Map.of(), null,
                JobType.DEFAULT_MAX_OUTPUT, JobType.DEFAULT_TMP_SIZE);
        String code = HostileProbes.PRELUDE + """
                report_exc("netlink_route", lambda: socket.socket(16, socket.SOCK_RAW, 0).close())
                report_exc("netlink_uevent", lambda: socket.socket(16, socket.SOCK_RAW, 15).close())
                report_exc("af_packet", lambda: socket.socket(17, socket.SOCK_RAW, 0).close())
                report_exc("af_inet", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close())
                """;
        String id = "rln" + UUID.randomUUID().toString().substring(0, 8) + "-1";
        ExecutionResult r = executor.execute(SandboxTestSupport.request(id, JobSpec.python(code), networked, 20,
                OutputLimits.DEFAULTS), Files.createDirectory(temp.resolve(id)));
        assertThat(r.status()).as(r.stderr()).isEqualTo(JobStatus.SUCCEEDED);
        HostileProbes.assertAllowed(r, "netlink_route");
        HostileProbes.assertAllowed(r, "af_inet");
        HostileProbes.assertDenied(r, "netlink_uevent", "EPERM");
        HostileProbes.assertDenied(r, "af_packet", "EPERM");
    }

    @Test
    void aFileLargerThanTheLimitIsAnOutputLimitError() throws IOException {
        OutputLimits limits = new OutputLimits(64L << 10, 64L << 10, 128L << 20, 16L << 20, 100);
        ExecutionResult r = run("""
                with open("/output/big.bin", "wb") as f:
                    f.seek((128 << 20) + 1)  # sparse: the limit, not the tmpfs, says no
                    f.write(b"x")
                """, limits);
        assertThat(r.status()).isEqualTo(JobStatus.FAILED);
        assertThat(r.error().type()).as(r.stderr()).isEqualTo(ErrorType.OUTPUT_LIMIT);
        assertThat(r.stderr()).contains("File too large");
    }
}
