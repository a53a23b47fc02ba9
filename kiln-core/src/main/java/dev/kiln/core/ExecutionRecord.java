package dev.kiln.core;

import java.time.Instant;

/**
 * One attempt of a job as the store holds it ({@code GET /jobs/{id}/executions}). {@code deadlineAt} is when the
 * orchestrator gives up on hearing from it (its timeout plus a grace); {@code exitCode} and {@code error} are set
 * once it ended (the error of an interrupted execution says why it was taken back).
 */
public record ExecutionRecord(String id, String jobId, int attempt, String nodeId, ExecutionStatus status,
                              Instant startedAt, Instant deadlineAt, Instant finishedAt, boolean cancelRequested,
                              Integer exitCode, JobError error) {
}
