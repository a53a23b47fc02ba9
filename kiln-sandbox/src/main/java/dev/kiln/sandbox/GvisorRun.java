package dev.kiln.sandbox;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.OutputSink;

import java.io.File;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * One gVisor execution from spawn to result, inside its cgroup: captures stdout/stderr (bounded), enforces the wall
 * timeout by killing the cgroup (runsc, gofer, sentry and stubs alike), reads /output back and classifies, exactly
 * as the bwrap executor does.
 */
final class GvisorRun {
    private static final Duration CLEANUP_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration STREAM_DRAIN_TIMEOUT = Duration.ofSeconds(5);
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
        JobType type = request.jobType();
        OutputLimits limits = request.outputLimits();
        String id = request.executionId();
        BoundedCapture stdout = new BoundedCapture(process.getInputStream(),
                cap(limits.maxStdoutBytes(), type.maxOutputBytes()), OutputSink.STDOUT, handle.live())
                .start("kiln-stdout-" + id);
        BoundedCapture stderr = new BoundedCapture(process.getErrorStream(),
                cap(limits.maxStderrBytes(), type.maxOutputBytes()), OutputSink.STDERR, handle.live())
                .start("kiln-stderr-" + id);
        boolean interrupted = false;
        boolean exited;
        try {
            exited = process.waitFor(Math.max(1, request.timeoutSeconds()), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            interrupted = true;
            exited = false;
        }
        boolean timedOut = !exited && !interrupted && !handle.isCancelled();
        if (!exited) {
            cgroup.signalKill();
            process.destroyForcibly();
        }
        interrupted |= HostCommand.awaitUninterruptibly(process);
        long exitedAt = System.nanoTime();
        Integer exitCode = process.exitValue();
        // the sentry, gofer and stubs are all in the cgroup: nothing of the sandbox survives this
        boolean empty = cgroup.killAndAwaitEmpty(CLEANUP_TIMEOUT);
        CgroupStats stats = cgroup.stats();
        stdout.await(STREAM_DRAIN_TIMEOUT);
        stderr.await(STREAM_DRAIN_TIMEOUT);
        interrupted |= Thread.interrupted();
        if (interrupted) handle.markInterrupted();
        if (!empty) {
            return new Outcome(GvisorExecutor.sandboxError("could not kill every process of the job within "
                    + CLEANUP_TIMEOUT.toSeconds() + " s"), false);
        }
        long startupMs = TimeUnit.NANOSECONDS.toMillis(spawned - entry);
        long executionMs = TimeUnit.NANOSECONDS.toMillis(exitedAt - spawned);
        if (handle.isCancelled()) {
            return new Outcome(new ExecutionResult(JobStatus.CANCELLED, exitCode, stdout.text(), stderr.text(),
                    stdout.truncated(), stderr.truncated(), null, new JobError(ErrorType.CANCELLED, "cancelled",
                    JobError.PHASE_EXECUTION), startupMs, executionMs, List.of()), true);
        }
        if (interrupted) {
            return new Outcome(new ExecutionResult(JobStatus.FAILED, exitCode, stdout.text(), stderr.text(),
                    stdout.truncated(), stderr.truncated(), null, new JobError(ErrorType.SANDBOX_ERROR,
                    "interrupted: the node is shutting down", JobError.PHASE_EXECUTION), startupMs, executionMs,
                    List.of()), true);
        }
        String runscFailure = runscFailure(timedOut, exitCode, stderr.text(), stats);
        if (runscFailure != null) return new Outcome(GvisorExecutor.sandboxError(runscFailure), true);
        OutputCollector.Collected collected = new OutputCollector(limits).collect(layout.output(), layout.artifacts());
        String stderrText = BwrapExecutor.withWarnings(stderr.text(), collected.warnings());
        var verdict = ResultClassifier.classify(new ResultClassifier.RunFacts(false, timedOut,
                request.timeoutSeconds(), exitCode, stderr.textForClassification(), stats, type.memoryLimitBytes(),
                type.pidsLimit(), type.networkEnabled(), collected.limitError(), collected.limitMessage()));
        return new Outcome(new ExecutionResult(verdict.status(), exitCode, stdout.text(), stderrText,
                stdout.truncated(), stderr.truncated(), collected.outputJson(), verdict.error(), startupMs,
                executionMs, collected.artifacts()), true);
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

    private static long cap(long streamLimit, long jobTypeLimit) {
        return jobTypeLimit > 0 ? Math.min(streamLimit, jobTypeLimit) : streamLimit;
    }

    static ExecutionResult cancelled(long entry) {
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - entry);
        return new ExecutionResult(JobStatus.CANCELLED, null, "", "", false, false, null,
                new JobError(ErrorType.CANCELLED, "cancelled", JobError.PHASE_EXECUTION), ms, 0, List.of());
    }
}
