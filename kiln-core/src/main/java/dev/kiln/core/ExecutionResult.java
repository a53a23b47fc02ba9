package dev.kiln.core;

import java.util.List;
import java.util.Objects;

/**
 * What one execution produced. {@code outputJson} is the raw text of {@code /output/result.json} (null when absent
 * or over the cap); transports parse it and show null when it is not valid JSON. {@code error} is null exactly when {@code status} is SUCCEEDED.
 */
public record ExecutionResult(JobStatus status, Integer exitCode, String stdout, String stderr,
                              boolean stdoutTruncated, boolean stderrTruncated, String outputJson, JobError error,
                              long startupMs, long executionMs, List<CollectedArtifact> artifacts) {
    public ExecutionResult {
        Objects.requireNonNull(status, "status");
        if (!status.isTerminal()) throw new IllegalArgumentException("result status must be terminal: " + status);
        if ((status == JobStatus.SUCCEEDED) != (error == null)) {
            throw new IllegalArgumentException("error must be null exactly when the status is succeeded");
        }
        stdout = stdout == null ? "" : stdout;
        stderr = stderr == null ? "" : stderr;
        artifacts = artifacts == null ? List.of() : List.copyOf(artifacts);
    }

    /** A result for an execution that never got to run user code. */
    public static ExecutionResult failure(JobStatus status, JobError error) {
        return new ExecutionResult(status, null, "", "", false, false, null, error, 0, 0, List.of());
    }
}
