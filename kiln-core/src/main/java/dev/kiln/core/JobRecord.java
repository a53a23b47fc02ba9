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

    public String currentExecutionId() {
        return ExecutionRequest.executionId(id, attempt);
    }
}
