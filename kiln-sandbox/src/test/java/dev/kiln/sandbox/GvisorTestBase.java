package dev.kiln.sandbox;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static dev.kiln.sandbox.SandboxTestSupport.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Real gVisor sandboxes (runsc from Debian) in real cgroups. Every test checks afterwards that no cgroup, runsc
 * process, runsc state or bundle is left.
 */
abstract class GvisorTestBase {
    @TempDir
    Path temp;

    String parent;
    GvisorExecutor executor;
    private int runs;
    final ExecutorService background = Executors.newVirtualThreadPerTaskExecutor();

    /** Skips, saying why, only where runsc cannot run here at all. */
    static void assumeGvisorUsable() {
        SandboxTestSupport.assumeSandboxUsable();
        assumeTrue(RunscPlatform.installed(RunscPlatform.DEFAULT_RUNSC),
                "gVisor is not installed (apt-get install -y runsc)");
    }

    @BeforeEach
    void setUpGvisor() throws IOException {
        assumeGvisorUsable();
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        parent = SandboxTestSupport.uniqueParent();
        executor = new GvisorExecutor(BwrapConfig.defaults().withCgroupParent(parent), null);
    }

    @AfterEach
    void tearDownGvisor() throws IOException {
        background.shutdownNow();
        if (executor == null) return;
        assertThat(executor.cgroups().children()).as("cgroups left").isEmpty();
        executor.close();
        assertThat(runscProcesses()).as("runsc processes left behind").isEmpty();
        try (var dirs = Files.list(temp)) {
            for (Path work : dirs.filter(p -> p.getFileName().toString().startsWith("work-")).toList()) {
                assertThat(work.resolve("gvisor")).as("bundle and runsc state removed").doesNotExist();
            }
        }
    }

    /** runsc, runsc-gofer and runsc-sandbox processes whose state root lies in this test's temp dir. */
    List<Long> runscProcesses() {
        return SandboxTestSupport.processesWithMarker("--root=" + temp);
    }

    Path newWorkDir() throws IOException {
        Path dir = temp.resolve("work-" + (++runs));
        Files.createDirectory(dir);
        return dir;
    }

    ExecutionResult run(String code) throws IOException {
        return run(spec(code), JobType.defaults("default"), 10, OutputLimits.DEFAULTS);
    }

    ExecutionResult run(JobSpec spec, JobType type, int timeout, OutputLimits limits) throws IOException {
        return logged(executor.execute(request(newId(), spec, type, timeout, limits), newWorkDir()));
    }

    static ExecutionResult logged(ExecutionResult r) {
        System.out.println(describe(r) + "\nstartupMs=" + r.startupMs() + " executionMs=" + r.executionMs() + "\n");
        return r;
    }

    static String newId() {
        return "gv" + UUID.randomUUID().toString().substring(0, 8) + "-1";
    }

    static JobSpec spec(String code) {
        return new JobSpec(code, null, Map.of(), "default", null);
    }

    static JobType type(long memory, int pids, boolean network, Map<String, String> env) {
        return SandboxTestSupport.type(memory, pids, network, env);
    }

    static void assertError(ExecutionResult r, JobStatus status, ErrorType type, String phase) {
        assertThat(r.status()).as(describe(r)).isEqualTo(status);
        assertThat(r.error()).as(describe(r)).isNotNull();
        assertThat(r.error().type()).as(describe(r)).isEqualTo(type);
        assertThat(r.error().phase()).isEqualTo(phase);
    }

    static String describe(ExecutionResult r) {
        return "status=" + r.status() + " exit=" + r.exitCode() + " error=" + r.error() + "\nstdout="
                + abbreviate(r.stdout()) + "\nstderr=" + abbreviate(r.stderr());
    }

    private static String abbreviate(String s) {
        return s.length() > 2000 ? s.substring(0, 2000) + "..." : s;
    }
}
