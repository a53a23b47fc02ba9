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
        assertThat(r.stdout()).isEqualTo("RLIMIT_CORE 0 0\nRLIMIT_NOFILE 1024 1024\nRLIMIT_FSIZE " + fsize + " "
                + fsize + "\nRLIMIT_NPROC 16384 16384\n");
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
