package dev.kiln.core;

import java.util.Objects;

/**
 * One attempt at running a job, as handed to a compute node. {@code executionId} is unique per attempt
 * ({@code jobId + "-" + attempt}); a result is accepted only for the execution that is current in the store.
 */
public record ExecutionRequest(String executionId, String jobId, int attempt, JobSpec spec, JobType jobType,
                               int timeoutSeconds, OutputLimits outputLimits) {
    public ExecutionRequest {
        Objects.requireNonNull(executionId, "executionId");
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(jobType, "jobType");
        Objects.requireNonNull(outputLimits, "outputLimits");
    }

    public static String executionId(String jobId, int attempt) {
        return jobId + "-" + attempt;
    }
}
