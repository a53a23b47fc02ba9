package dev.kiln.core;

import java.util.List;

/**
 * The stored outcome of a job's final execution (artifacts already imported into the artifact store).
 * {@code layerDigest} is the job type's layer it ran on (null: none).
 */
public record JobResult(Integer exitCode, String stdout, String stderr, boolean stdoutTruncated,
                        boolean stderrTruncated, String outputJson, JobError error, long startupMs, long executionMs,
                        List<Artifact> artifacts, String layerDigest) {
    public JobResult {
        stdout = stdout == null ? "" : stdout;
        stderr = stderr == null ? "" : stderr;
        artifacts = artifacts == null ? List.of() : List.copyOf(artifacts);
    }

    public JobResult(Integer exitCode, String stdout, String stderr, boolean stdoutTruncated, boolean stderrTruncated,
                     String outputJson, JobError error, long startupMs, long executionMs, List<Artifact> artifacts) {
        this(exitCode, stdout, stderr, stdoutTruncated, stderrTruncated, outputJson, error, startupMs, executionMs,
                artifacts, null);
    }

    public static JobResult of(ExecutionResult r, List<Artifact> stored, String layerDigest) {
        return new JobResult(r.exitCode(), r.stdout(), r.stderr(), r.stdoutTruncated(), r.stderrTruncated(),
                r.outputJson(), r.error(), r.startupMs(), r.executionMs(), stored, layerDigest);
    }

    public static JobResult errorOnly(JobError error) {
        return new JobResult(null, "", "", false, false, null, error, 0, 0, List.of(), null);
    }
}
