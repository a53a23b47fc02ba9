package dev.kiln.core;

import java.util.Objects;

/**
 * One attempt at running a job, as handed to a compute node. {@code executionId} is unique per attempt
 * ({@code jobId + "-" + attempt}); a result is accepted only for the execution that is current in the store.
 * {@code layerDigest} pins the job type's pre-built layer the execution runs on (null: the type has none).
 */
public record ExecutionRequest(String executionId, String jobId, int attempt, JobSpec spec, JobType jobType,
                               int timeoutSeconds, OutputLimits outputLimits, String layerDigest) {
    public ExecutionRequest {
        Objects.requireNonNull(executionId, "executionId");
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(jobType, "jobType");
        Objects.requireNonNull(outputLimits, "outputLimits");
    }

    public ExecutionRequest(String executionId, String jobId, int attempt, JobSpec spec, JobType jobType,
                            int timeoutSeconds, OutputLimits outputLimits) {
        this(executionId, jobId, attempt, spec, jobType, timeoutSeconds, outputLimits, null);
    }

    public static String executionId(String jobId, int attempt) {
        return jobId + "-" + attempt;
    }
}
