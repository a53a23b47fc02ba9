package dev.kiln.core;

import java.time.Instant;

/** A job to insert in state QUEUED with version 0 and attempt 0. */
public record NewJob(String id, JobSpec spec, String specHash, String idempotencyKey, int maxAttempts,
                     Instant createdAt) {
}
