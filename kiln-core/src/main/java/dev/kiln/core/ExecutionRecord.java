package dev.kiln.core;

import java.time.Instant;

/**
 * One attempt of a job as the store holds it ({@code GET /jobs/{id}/executions}). {@code deadlineAt} is when the
 * orchestrator gives up on hearing from it (its timeout plus a grace); {@code exitCode} and {@code error} are set
 * once it ended (the error of an interrupted execution says why it was taken back); {@code leaseExpiresAt} until
 * when its node was last known alive (null: no lease).
 */
public record ExecutionRecord(String id, String jobId, int attempt, String nodeId, ExecutionStatus status,
                              Instant startedAt, Instant deadlineAt, Instant finishedAt, boolean cancelRequested,
                              Integer exitCode, JobError error, Instant leaseExpiresAt) {
    public ExecutionRecord(String id, String jobId, int attempt, String nodeId, ExecutionStatus status,
                           Instant startedAt, Instant deadlineAt, Instant finishedAt, boolean cancelRequested,
                           Integer exitCode, JobError error) {
        this(id, jobId, attempt, nodeId, status, startedAt, deadlineAt, finishedAt, cancelRequested, exitCode, error,
                null);
    }

    public ExecutionRecord withLease(Instant until) {
        return new ExecutionRecord(id, jobId, attempt, nodeId, status, startedAt, deadlineAt, finishedAt,
                cancelRequested, exitCode, error, until);
    }

    public ExecutionRecord withCancelRequested() {
        return new ExecutionRecord(id, jobId, attempt, nodeId, status, startedAt, deadlineAt, finishedAt, true,
                exitCode, error, leaseExpiresAt);
    }
}
