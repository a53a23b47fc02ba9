package dev.kiln.core;

import java.util.List;

/** The stored outcome of a job's final execution (artifacts already imported into the artifact store). */
public record JobResult(Integer exitCode, String stdout, String stderr, boolean stdoutTruncated,
                        boolean stderrTruncated, String outputJson, JobError error, long startupMs, long executionMs,
                        List<Artifact> artifacts) {
    public JobResult {
        stdout = stdout == null ? "" : stdout;
        stderr = stderr == null ? "" : stderr;
        artifacts = artifacts == null ? List.of() : List.copyOf(artifacts);
    }

    public static JobResult of(ExecutionResult r, List<Artifact> stored) {
        return new JobResult(r.exitCode(), r.stdout(), r.stderr(), r.stdoutTruncated(), r.stderrTruncated(),
                r.outputJson(), r.error(), r.startupMs(), r.executionMs(), stored);
    }

    public static JobResult errorOnly(JobError error) {
        return new JobResult(null, "", "", false, false, null, error, 0, 0, List.of());
    }
}
