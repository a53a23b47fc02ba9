package dev.kiln.core;

import java.time.Instant;

/**
 * A job as the store holds it. {@code version} is the fencing token: every state change is conditional on it and
 * increments it. {@code attempt} counts executions started (0 while never started). {@code result} is null until
 * the job is terminal. {@code namespace}: whose it is (only callers of that namespace, and admins, see it);
 * {@code submittedBy}: the key id that submitted it ({@code local}: the machine's own user; null: before keys).
 * {@code idempotencyKey} is the key as stored, scoped by namespace ({@link IdempotencyKeys}).
 */
public record JobRecord(String id, long seq, JobStatus status, JobSpec spec, String specHash, String idempotencyKey,
                        int attempt, int maxAttempts, long version, String nodeId, Instant createdAt,
                        Instant startedAt, Instant finishedAt, JobResult result, String namespace,
                        String submittedBy) {
    public static final String DEFAULT_NAMESPACE = "default";

    public JobRecord {
        if (namespace == null) namespace = DEFAULT_NAMESPACE;
    }

    /** A job of the default namespace, submitted before keys (tests, benchmarks). */
    public JobRecord(String id, long seq, JobStatus status, JobSpec spec, String specHash, String idempotencyKey,
                     int attempt, int maxAttempts, long version, String nodeId, Instant createdAt,
                     Instant startedAt, Instant finishedAt, JobResult result) {
        this(id, seq, status, spec, specHash, idempotencyKey, attempt, maxAttempts, version, nodeId, createdAt,
                startedAt, finishedAt, result, DEFAULT_NAMESPACE, null);
    }

    /** The same job at another version (it changed hands, nothing else). */
    public JobRecord withVersion(long v) {
        return new JobRecord(id, seq, status, spec, specHash, idempotencyKey, attempt, maxAttempts, v, nodeId,
                createdAt, startedAt, finishedAt, result, namespace, submittedBy);
    }

    /** The same job in another state: what a transition changes, the rest kept. */
    public JobRecord with(JobStatus status, long version, int attempt, String nodeId, Instant startedAt,
                          Instant finishedAt, JobResult result) {
        return new JobRecord(id, seq, status, spec, specHash, idempotencyKey, attempt, maxAttempts, version, nodeId,
                createdAt, startedAt, finishedAt, result, namespace, submittedBy);
    }

    /** The idempotency key as the client sent it. */
    public String clientIdempotencyKey() {
        return IdempotencyKeys.unscoped(idempotencyKey);
    }

    public String currentExecutionId() {
        return ExecutionRequest.executionId(id, attempt);
    }
}
