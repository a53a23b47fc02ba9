package dev.kiln.sandbox;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;

import java.io.File;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * One gVisor execution from spawn to result, inside its cgroup: captures stdout/stderr (bounded), enforces the wall
 * timeout by killing the cgroup (runsc, gofer, sentry and stubs alike), reads /output back and classifies, exactly
 * as the bwrap executor does.
 */
final class GvisorRun {
    /** runsc's own failures (exit 128) start with the step that failed, e.g. "creating container: ...". */
    private static final Pattern RUNSC_FAILURE = Pattern.compile(
            "^(reading spec|running container|creating container|starting container|creating sandbox|"
                    + "waiting for container|cannot create sandbox|error|panic)\\b.*");
    static final int RUNSC_FAILURE_EXIT = 128;

    record Outcome(ExecutionResult result, boolean cgroupEmpty) {
    }

    private final ExecutionRequest request;
    private final WorkDirLayout layout;
    private final Cgroup cgroup;
    private final ExecutionHandle handle;
    private final long entry;

    GvisorRun(ExecutionRequest request, WorkDirLayout layout, Cgroup cgroup, ExecutionHandle handle, long entry) {
        this.request = request;
        this.layout = layout;
        this.cgroup = cgroup;
        this.handle = handle;
        this.entry = entry;
    }

    Outcome run(List<String> argv) {
        if (!handle.attach(cgroup)) return new Outcome(cancelled(entry), true);
        ProcessBuilder pb = new ProcessBuilder(argv).directory(new File("/"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().clear();
        pb.environment().putAll(BwrapExecutor.SPAWN_ENV);
        Process process;
        try {
            process = handle.spawn(() -> Spawner.start(pb));
        } catch (IOException e) {
            return new Outcome(GvisorExecutor.sandboxError("cannot start runsc: " + e.getMessage()), false);
        }
        long spawned = System.nanoTime();
        if (process == null) return new Outcome(cancelled(entry), true);
        return supervise(process, spawned);
    }

    private Outcome supervise(Process process, long spawned) {
        SandboxSupervisor.Ended ended = SandboxSupervisor.watch(request, cgroup, handle, process, entry, spawned);
        if (ended.result() != null) return new Outcome(ended.result(), ended.cgroupEmpty());
        String runscFailure = runscFailure(ended.timedOut(), ended.exitCode(), ended.stderr().text(), ended.stats());
        if (runscFailure != null) return new Outcome(GvisorExecutor.sandboxError(runscFailure), true);
        return new Outcome(SandboxSupervisor.collectAndClassify(request, ended, layout.output(), layout.artifacts()),
                true);
    }

    /**
     * runsc itself failed before the job ran (exit 128 and its message as the first stderr line); null otherwise,
     * also when a limit was hit (a fork bomb can make the sentry fail, and that is the job's pids limit).
     */
    static String runscFailure(boolean timedOut, Integer exitCode, String stderr, CgroupStats stats) {
        if (timedOut || exitCode == null || exitCode != RUNSC_FAILURE_EXIT) return null;
        if (stats.oomKills() > 0 || stats.pidsLimitHits() > 0) return null;
        String first = stderr.lines().findFirst().orElse("");
        return RUNSC_FAILURE.matcher(first).matches() ? "gVisor sandbox setup failed: " + first : null;
    }


    static ExecutionResult cancelled(long entry) {
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - entry);
        return new ExecutionResult(JobStatus.CANCELLED, null, "", "", false, false, null,
                new JobError(ErrorType.CANCELLED, "cancelled", JobError.PHASE_EXECUTION), ms, 0, List.of());
    }
}
