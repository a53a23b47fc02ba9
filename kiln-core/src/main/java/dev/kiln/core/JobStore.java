package dev.kiln.core;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Durable job storage. Every state change is a compare-and-set on {@code version} (the fencing token) and returns
 * whether it applied; implementations never change a row whose version differs. A method that returns normally
 * has made its change durable.
 */
public interface JobStore extends AutoCloseable {

    /** The job as inserted, or the existing one with the same idempotency key. */
    record Inserted(JobRecord job, boolean created) {
    }

    /** Inserts a QUEUED job; with a non-null idempotency key already present returns that job, unchanged. */
    Inserted insert(NewJob job);

    Optional<JobRecord> find(String id);

    /** Newest first. {@code status} null lists every status; {@code cursor} is a previous page's next cursor. */
    JobPage list(JobStatus status, int limit, String cursor);

    /** Oldest first (submission order). */
    List<JobRecord> findByStatus(JobStatus status, int limit);

    /** QUEUED -> RUNNING on {@code nodeId}, recording the attempt number; version + 1. */
    boolean markRunning(String id, long expectedVersion, int attempt, String nodeId, Instant startedAt);

    /** One job to move QUEUED -> RUNNING, as in {@link #markRunning(String, long, int, String, Instant)}. */
    record Claim(String id, long expectedVersion, int attempt, String nodeId, Instant startedAt) {
    }

    /**
     * Claims several jobs; element i says whether claim i applied. Stores that can make it one commit should (the
     * dispatcher claims a whole round at once). Unlike the other writes, a store may return before the claim is on
     * disk, as long as it survives a crash of the process: a power loss that undoes a claim only returns the jobs to
     * the queue with their attempt not counted, and their sandboxes died with the machine anyway.
     */
    default List<Boolean> markRunning(List<Claim> claims) {
        List<Boolean> applied = new java.util.ArrayList<>(claims.size());
        for (Claim c : claims) applied.add(markRunning(c.id(), c.expectedVersion(), c.attempt(), c.nodeId(), c.startedAt()));
        return applied;
    }

    /** RUNNING -> QUEUED (an interrupted attempt will be re-run); version + 1, node cleared. */
    boolean requeue(String id, long expectedVersion);

    /** Any non-terminal -> terminal {@code status} with its result; version + 1. */
    boolean complete(String id, long expectedVersion, JobStatus status, JobResult result, Instant finishedAt);

    Map<JobStatus, Long> countByStatus();

    /** A cheap round trip to the database. */
    boolean isHealthy();

    @Override
    void close();
}
