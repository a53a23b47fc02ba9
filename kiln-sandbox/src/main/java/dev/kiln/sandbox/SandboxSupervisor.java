package dev.kiln.sandbox;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.OutputSink;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One sandbox's process from spawn to result, the same for every executor (bwrap, gVisor): stdout and stderr read
 * with their caps while it runs, the wall timeout, the kill of its whole cgroup before anything is read back, then
 * {@code /output} collected and the outcome classified.
 */
final class SandboxSupervisor {
    private static final Logger log = LoggerFactory.getLogger(SandboxSupervisor.class);
    static final Duration CLEANUP_TIMEOUT = Duration.ofSeconds(10);
    static final Duration STREAM_DRAIN_TIMEOUT = Duration.ofSeconds(5);

    /**
     * How the process ended. {@code result} is set when nothing is to be read back (cancelled, interrupted, a
     * cgroup that would not empty); {@code cgroupEmpty} says whether the cgroup may be removed.
     */
    record Ended(ExecutionResult result, boolean cgroupEmpty, Integer exitCode, boolean timedOut,
                 BoundedCapture stdout, BoundedCapture stderr, CgroupStats stats, long startupMs, long executionMs) {
    }

    private SandboxSupervisor() {
    }

    static Ended watch(ExecutionRequest request, Cgroup cgroup, ExecutionHandle handle, Process process, long entry,
                       long spawned) {
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
        // whatever is left (daemonized children, a fork bomb, gVisor's sentry) dies before anything is read back
        boolean empty = cgroup.killAndAwaitEmpty(CLEANUP_TIMEOUT);
        CgroupStats stats = cgroup.stats();
        stdout.await(STREAM_DRAIN_TIMEOUT);
        stderr.await(STREAM_DRAIN_TIMEOUT);
        interrupted |= Thread.interrupted(); // cleared until cleanup is done: file channels refuse interrupted threads
        if (interrupted) handle.markInterrupted();
        long startupMs = TimeUnit.NANOSECONDS.toMillis(spawned - entry);
        long executionMs = TimeUnit.NANOSECONDS.toMillis(exitedAt - spawned);
        ExecutionResult early = null;
        if (!empty) {
            early = sandboxError("could not kill every process of the job within " + CLEANUP_TIMEOUT.toSeconds()
                    + " s");
        } else if (handle.isCancelled()) {
            early = new ExecutionResult(JobStatus.CANCELLED, exitCode, stdout.text(), stderr.text(),
                    stdout.truncated(), stderr.truncated(), null, new JobError(ErrorType.CANCELLED, "cancelled",
                    JobError.PHASE_EXECUTION), startupMs, executionMs, List.of());
        } else if (interrupted) {
            early = new ExecutionResult(JobStatus.FAILED, exitCode, stdout.text(), stderr.text(),
                    stdout.truncated(), stderr.truncated(), null, new JobError(ErrorType.SANDBOX_ERROR,
                    "interrupted: the node is shutting down", JobError.PHASE_EXECUTION), startupMs, executionMs,
                    List.of());
        }
        return new Ended(early, empty, exitCode, timedOut, stdout, stderr, stats, startupMs, executionMs);
    }

    /** Reads {@code /output} back (the job is dead) into {@code artifactsDir} and classifies the outcome. */
    static ExecutionResult collectAndClassify(ExecutionRequest request, Ended e, Path outputDir, Path artifactsDir) {
        JobType type = request.jobType();
        OutputCollector.Collected collected = new OutputCollector(request.outputLimits()).collect(outputDir,
                artifactsDir);
        String stderrText = withWarnings(e.stderr().text(), collected.warnings());
        var verdict = ResultClassifier.classify(new ResultClassifier.RunFacts(false, e.timedOut(),
                request.timeoutSeconds(), e.exitCode(), e.stderr().textForClassification(), e.stats(),
                type.memoryLimitBytes(), type.pidsLimit(), type.networkEnabled(), collected.limitError(),
                collected.limitMessage()));
        return new ExecutionResult(verdict.status(), e.exitCode(), e.stdout().text(), stderrText,
                e.stdout().truncated(), e.stderr().truncated(), collected.outputJson(), verdict.error(), e.startupMs(),
                e.executionMs(), collected.artifacts());
    }

    static String withWarnings(String stderr, List<String> warnings) {
        if (warnings.isEmpty()) return stderr;
        String sep = stderr.isEmpty() || stderr.endsWith("\n") ? "" : "\n";
        return stderr + sep + String.join("\n", warnings) + "\n";
    }

    static ExecutionResult sandboxError(String message) {
        log.warn("sandbox error: {}", message);
        return ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR, message,
                JobError.PHASE_SETUP));
    }

    private static long cap(long streamLimit, long jobTypeLimit) {
        return jobTypeLimit > 0 ? Math.min(streamLimit, jobTypeLimit) : streamLimit;
    }
}
