package dev.kiln.core;

import java.time.Instant;

/**
 * A job as the store holds it. {@code version} is the fencing token: every state change is conditional on it and
 * increments it. {@code attempt} counts executions started (0 while never started). {@code result} is null until
 * the job is terminal.
 */
public record JobRecord(String id, long seq, JobStatus status, JobSpec spec, String specHash, String idempotencyKey,
                        int attempt, int maxAttempts, long version, String nodeId, Instant createdAt,
                        Instant startedAt, Instant finishedAt, JobResult result) {

    /** The same job at another version (it changed hands, nothing else). */
    public JobRecord withVersion(long v) {
        return new JobRecord(id, seq, status, spec, specHash, idempotencyKey, attempt, maxAttempts, v, nodeId,
                createdAt, startedAt, finishedAt, result);
    }

    public String currentExecutionId() {
        return ExecutionRequest.executionId(id, attempt);
    }
}
