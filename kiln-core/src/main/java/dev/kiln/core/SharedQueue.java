package dev.kiln.core;

import java.time.Instant;
import java.util.List;

/**
 * A {@link JobStore} that several orchestrators (replicas sharing one database) can dispatch from at once: a claim
 * picks the jobs itself, so two replicas never need to agree on who takes which.
 */
public interface SharedQueue {
    /**
     * Moves up to {@code limit} of the oldest QUEUED jobs to RUNNING on {@code nodeId}: attempt + 1, version + 1,
     * started at {@code startedAt}, in one statement. Jobs a concurrent claim is taking are skipped, not waited
     * for, so concurrent claims get disjoint jobs. Returns the claimed jobs as they are now, oldest first; empty
     * when none is queued.
     */
    List<JobRecord> claimQueued(int limit, String nodeId, Instant startedAt);
}
