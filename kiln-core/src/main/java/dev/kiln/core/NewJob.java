package dev.kiln.core;

import java.time.Instant;

/**
 * A job to insert in state QUEUED with version 0 and attempt 0. {@code keyNotBefore}: a job holding the same
 * idempotency key created before this instant no longer counts (its key has expired and is released); null: keys
 * never expire. {@code idempotencyKey} is scoped by namespace already ({@link IdempotencyKeys#scoped}).
 */
public record NewJob(String id, JobSpec spec, String specHash, String idempotencyKey, int maxAttempts,
                     Instant createdAt, Instant keyNotBefore, String namespace, String submittedBy) {
    public NewJob {
        if (namespace == null) namespace = JobRecord.DEFAULT_NAMESPACE;
    }

    public NewJob(String id, JobSpec spec, String specHash, String idempotencyKey, int maxAttempts,
                  Instant createdAt, Instant keyNotBefore) {
        this(id, spec, specHash, idempotencyKey, maxAttempts, createdAt, keyNotBefore, null, null);
    }

    public NewJob(String id, JobSpec spec, String specHash, String idempotencyKey, int maxAttempts,
                  Instant createdAt) {
        this(id, spec, specHash, idempotencyKey, maxAttempts, createdAt, null);
    }
}
