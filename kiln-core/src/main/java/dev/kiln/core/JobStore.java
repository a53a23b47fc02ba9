package dev.kiln.core;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Durable job storage. Every state change is a compare-and-set on {@code version} (the fencing token) and returns
 * whether it applied; implementations never change a row whose version differs. A method that returns normally
 * has made its change durable. A failure that is not the caller's fault (disk full, database unreachable) is a
 * {@link StoreUnavailableException}, after which nothing was changed.
 */
public interface JobStore extends AutoCloseable {

    /** The job as inserted, or the existing one with the same idempotency key. */
    record Inserted(JobRecord job, boolean created) {
    }

    /**
     * Inserts a QUEUED job; with a non-null idempotency key already present (and not expired, see
     * {@link NewJob#keyNotBefore()}) returns that job, unchanged.
     */
    Inserted insert(NewJob job);

    Optional<JobRecord> find(String id);

    /** The job holding idempotency key {@code key}, if it was created at or after {@code notBefore} (null: any). */
    Optional<JobRecord> findByIdempotencyKey(String key, Instant notBefore);

    /** Newest first, of every namespace. */
    default JobPage list(JobStatus status, int limit, String cursor) {
        return list(null, status, limit, cursor);
    }

    /**
     * Newest first. {@code namespace} null: every namespace's; {@code status} null lists every status;
     * {@code cursor} is a previous page's next cursor.
     */
    JobPage list(String namespace, JobStatus status, int limit, String cursor);

    /** Oldest first (submission order). */
    List<JobRecord> findByStatus(JobStatus status, int limit);

    /**
     * QUEUED -> RUNNING on {@code nodeId}, recording the attempt number; version + 1. In the same commit, the attempt
     * becomes an execution row ({@code running}, id {@code <job id>-<attempt>}).
     */
    default boolean markRunning(String id, long expectedVersion, int attempt, String nodeId, Instant startedAt) {
        return markRunning(List.of(new Claim(id, expectedVersion, attempt, nodeId, startedAt, null))).getFirst();
    }

    /**
     * One job to move QUEUED -> RUNNING, as in {@link #markRunning(String, long, int, String, Instant)};
     * {@code deadlineAt} (may be null) is when the orchestrator stops waiting for the execution's result;
     * {@code leaseUntil} (may be null: no lease) until when its node is known alive (see {@link #renewLeases}).
     */
    record Claim(String id, long expectedVersion, int attempt, String nodeId, Instant startedAt, Instant deadlineAt,
                 Instant leaseUntil) {
        public Claim(String id, long expectedVersion, int attempt, String nodeId, Instant startedAt,
                     Instant deadlineAt) {
            this(id, expectedVersion, attempt, nodeId, startedAt, deadlineAt, null);
        }

        public Claim(String id, long expectedVersion, int attempt, String nodeId, Instant startedAt) {
            this(id, expectedVersion, attempt, nodeId, startedAt, null, null);
        }
    }

    /**
     * Claims several jobs; element i says whether claim i applied. Stores that can make it one commit should (the
     * dispatcher claims a whole round at once). Unlike the other writes, a store may return before the claim is on
     * disk, as long as it survives a crash of the process: a power loss that undoes a claim only returns the jobs to
     * the queue with their attempt not counted, and their sandboxes died with the machine anyway.
     */
    List<Boolean> markRunning(List<Claim> claims);

    /**
     * A replica takes over a running execution whose node (re)connected to it: version + 1 while the job is running
     * on {@code nodeId}, so that the replica that held it before (alive, but cut off from the node) can no longer
     * re-queue or finish it. True when this call won.
     */
    boolean adopt(String id, long expectedVersion, String nodeId);

    /**
     * RUNNING -> QUEUED (an interrupted attempt will be re-run); version + 1, node cleared. The running execution
     * ends {@code interrupted} at {@code at}, with {@code reason} as its error.
     */
    boolean requeue(String id, long expectedVersion, String reason, Instant at);

    /**
     * Any non-terminal -> terminal {@code status} with its result; version + 1. A running execution ends with the
     * same status, the result's exit code and error.
     */
    boolean complete(String id, long expectedVersion, JobStatus status, JobResult result, Instant finishedAt);

    /**
     * RUNNING jobs whose current execution's deadline is before {@code now}, oldest deadline first: executions whose
     * result never came (a lost message, a node that never answered, a claim whose launch failed).
     */
    List<JobRecord> findOverdue(Instant now, int limit);

    /**
     * Extends the lease of every running execution on these nodes to {@code until}: the replica holding a node's
     * connection says, every few seconds, that the node is alive. Returns the executions renewed.
     */
    int renewLeases(java.util.Collection<String> nodeIds, Instant until);

    /**
     * RUNNING jobs whose current execution's lease lapsed before {@code now} (its node, or the replica holding the
     * node's connection, is gone), oldest lease first.
     */
    List<JobRecord> findLeaseExpired(Instant now, int limit);

    /**
     * Marks the running execution of a job as to be cancelled, so whichever replica holds (or later adopts) it
     * cancels it. False when the job has no running execution.
     */
    boolean requestCancel(String jobId);

    /** A job removed by {@link #deleteFinishedBefore}, and how many executions it had (their artifacts go too). */
    record Purged(String jobId, int attempts) {
    }

    /**
     * Deletes up to {@code limit} terminal jobs that finished before {@code cutoff}, with their executions (and so
     * their idempotency keys), oldest first. Never a job that is not terminal.
     */
    List<Purged> deleteFinishedBefore(Instant cutoff, int limit);

    /** A job's executions, first attempt first (empty for a job never started or not found). */
    List<ExecutionRecord> executions(String jobId);

    Map<JobStatus, Long> countByStatus();

    /** A cheap round trip to the database. */
    boolean isHealthy();

    /** Whether the store works now, and if not, what is wrong (a round trip, and the latest write's outcome). */
    default StoreHealth health() {
        return isHealthy() ? StoreHealth.OK : StoreHealth.failing("the database does not answer", null);
    }

    @Override
    void close();
}
