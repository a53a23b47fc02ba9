package dev.kiln.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hostile battery on the gVisor executor: the probes whose answer is the same as on bwrap run as written (the
 * /output symlink swap, two concurrent jobs, core dumps, /proc and /sys writes). The others reach gVisor's own
 * kernel, which answers them differently (EACCES for keyctl, ENOTTY for TIOCSTI, an unshare that then grants
 * nothing, io_uring and ptrace confined to the sandbox, EINVAL for a personality query):
 * {@link GvisorHostileProbesTest} asserts what gVisor does for each, and that the host is untouched; they are
 * overridden here as plain methods (not tests). The job's processes live inside gVisor's sentry, not on the host,
 * so there is no host pid of a neighbour to aim at (awaitHostPids is empty).
 */
class GvisorHostileBatteryTest extends JobHostileBattery {
    @TempDir
    Path temp;

    private String parent;
    private GvisorExecutor executor;

    @BeforeEach
    void setUp() throws IOException {
        GvisorTestBase.assumeGvisorUsable();
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        parent = SandboxTestSupport.uniqueParent();
        executor = new GvisorExecutor(BwrapConfig.defaults().withCgroupParent(parent), null);
    }

    @AfterEach
    void tearDown() {
        if (executor == null) return;
        assertThat(executor.cgroups().children()).as("cgroups left under " + parent).isEmpty();
        executor.close();
    }

    @Override
    protected ExecutionResult run(String python) throws IOException {
        String id = "ghostile" + UUID.randomUUID().toString().substring(0, 8) + "-1";
        Path workDir = Files.createDirectory(temp.resolve(id));
        JobType type = JobType.defaults("hostile");
        return executor.execute(SandboxTestSupport.request(id, JobSpec.python(python), type, 30, OutputLimits.DEFAULTS),
                workDir);
    }

    @Override
    protected List<Long> awaitHostPids(String marker) {
        return List.of(); // a gVisor job's processes are the sentry's, not host processes
    }

    // Answered by gVisor's own kernel: see GvisorHostileProbesTest (overrides without @Test are not run here).
    @Override
    void nestedUserNamespaceCannotBeCreated() {
    }

    @Override
    void ordinaryProcessesThreadsAndSocketsStillWork() {
    }

    @Override
    void ioUringUserfaultfdBpfAndPerfAreDenied() {
    }

    @Override
    void keyringsAreDenied() {
    }

    @Override
    void ptraceIsDenied() {
    }

    @Override
    void mountIsDeniedEvenAfterTryingANestedNamespace() {
    }

    @Override
    void packetAndNetlinkSocketsAreDenied() {
    }

    @Override
    void terminalInjectionIsDenied() {
    }

    @Override
    void foreignArchitectureSyscallsAreDenied() {
    }

    @Override
    void kernelModulesKexecAndHandlesAreDenied() {
    }
}
