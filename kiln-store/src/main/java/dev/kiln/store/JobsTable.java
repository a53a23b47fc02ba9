package dev.kiln.store;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRecord;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionStatus;
import dev.kiln.core.JobError;
import dev.kiln.core.JobPage;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobStore;
import dev.kiln.core.KilnException;
import dev.kiln.core.NewJob;
import dev.kiln.json.JobResultJson;
import dev.kiln.json.JobSpecJson;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.statement.Query;
import org.jdbi.v3.core.statement.Update;
import tools.jackson.databind.json.JsonMapper;

/**
 * Every SQL statement against {@code jobs}, in one place so that the state machine's guards are auditable, for both
 * backends: the SQL is portable, and the one clause that is not comes from the {@link SqlDialect}. Each state change is a single
 * {@code UPDATE ... WHERE id AND version AND status IN (allowed sources)}: the version is the fencing token and
 * the allowed sources come from {@link JobStatus#canTransitionTo}, so the database refuses what the table refuses.
 * Callers pick the connection (and transaction); this class only talks SQL.
 *
 * <p>Writes come as a {@link TableWrite}: the method checks its arguments and serializes JSON at once, on
 * the caller's thread, and the returned write only runs SQL, on whatever handle (and in whatever transaction) the
 * store gives it. That keeps argument errors with their caller and CPU work off the one committer thread.
 */
final class JobsTable {
    static final String COLUMNS = "seq, id, status, job_type, spec_json, spec_hash, idempotency_key, attempt, "
            + "max_attempts, version, node_id, created_at, started_at, finished_at, result_json, namespace, "
            + "submitted_by";

    private static final String SELECT = "SELECT " + COLUMNS + " FROM jobs ";

    // The fencing guard shared by every state change.
    private static final String CAS_GUARD =
            " WHERE id = :id AND version = :expectedVersion AND status IN (<fromStatuses>)";

    private final JsonMapper json = JsonMapper.builder().build();
    private final JobRowMapper rows = new JobRowMapper(json);
    private final ExecutionsTable executions = new ExecutionsTable();
    private final SqlDialect dialect;

    JobsTable(SqlDialect dialect) {
        this.dialect = dialect;
    }

    /** Run inside one transaction: the insert and the read-back of a conflicting key must see the same state. */
    TableWrite<JobStore.Inserted> insert(NewJob job) {
        Objects.requireNonNull(job.id(), "id");
        Objects.requireNonNull(job.spec(), "spec");
        Objects.requireNonNull(job.createdAt(), "createdAt");
        String specJson = json.writeValueAsString(JobSpecJson.toTree(job.spec()));
        return h -> {
            if (job.idempotencyKey() != null && job.keyNotBefore() != null) {
                // An expired key is released, so the insert below takes it.
                h.createUpdate("UPDATE jobs SET idempotency_key = NULL WHERE idempotency_key = :key "
                                + "AND created_at < :notBefore")
                        .bind("key", job.idempotencyKey())
                        .bind("notBefore", job.keyNotBefore().toEpochMilli())
                        .execute();
            }
            // ON CONFLICT on the key only: a duplicate id is a bug and must fail loudly.
            Optional<Long> seq = h.createQuery(INSERT)
                    .bind("id", job.id())
                    .bind("status", JobStatus.QUEUED.wireName())
                    .bind("jobType", job.spec().jobType())
                    .bind("specJson", specJson)
                    .bind("specHash", job.specHash())
                    .bind("idempotencyKey", job.idempotencyKey())
                    .bind("maxAttempts", job.maxAttempts())
                    .bind("createdAt", job.createdAt().toEpochMilli())
                    .bind("namespace", job.namespace())
                    .bind("submittedBy", job.submittedBy())
                    .mapTo(Long.class)
                    .findOne();
            if (seq.isPresent()) return new JobStore.Inserted(asInserted(job, seq.get()), true);
            // The key's owner may have been inserted earlier in the same transaction: the same read sees it.
            JobRecord existing = h.createQuery(SELECT + "WHERE idempotency_key = :key")
                    .bind("key", job.idempotencyKey())
                    .map(rows)
                    .findOne()
                    .orElseThrow(() -> new IllegalStateException(
                            "insert of " + job.id() + " skipped without a conflict"));
            return new JobStore.Inserted(existing, false);
        };
    }

    // RETURNING seq yields a row only when the insert happened; with asInserted it saves reading the row back
    // (a second statement and a JSON parse on the committer thread, the one thread every write goes through).
    private static final String INSERT = "INSERT INTO jobs (id, status, job_type, spec_json, spec_hash, "
            + "idempotency_key, attempt, max_attempts, version, created_at, namespace, submitted_by) "
            + "VALUES (:id, :status, :jobType, :specJson, :specHash, :idempotencyKey, 0, :maxAttempts, 0, :createdAt, "
            + ":namespace, :submittedBy) ON CONFLICT (idempotency_key) DO NOTHING RETURNING seq";

    /** The row exactly as {@link #INSERT} writes it: what reading it back would return. Keep the two in step. */
    private static JobRecord asInserted(NewJob job, long seq) {
        return new JobRecord(job.id(), seq, JobStatus.QUEUED, job.spec(), job.specHash(), job.idempotencyKey(),
                0, job.maxAttempts(), 0, null, Instant.ofEpochMilli(job.createdAt().toEpochMilli()), null, null,
                null, job.namespace(), job.submittedBy());
    }

    Optional<JobRecord> findByIdempotencyKey(Handle h, String key, Instant notBefore) {
        Objects.requireNonNull(key, "key");
        return h.createQuery(SELECT + "WHERE idempotency_key = :key AND created_at >= :notBefore")
                .bind("key", key)
                .bind("notBefore", notBefore == null ? Long.MIN_VALUE : notBefore.toEpochMilli())
                .map(rows)
                .findOne();
    }

    Optional<JobRecord> find(Handle h, String id) {
        return h.createQuery(SELECT + "WHERE id = :id").bind("id", id).map(rows).findOne();
    }

    /** {@code namespace} null: every namespace's. */
    JobPage list(Handle h, String namespace, JobStatus status, int limit, String cursor) {
        if (limit < 1) throw KilnException.invalid("limit", "must be at least 1, got " + limit);
        long before = ListCursor.decode(cursor);
        // Literal variants rather than "(:status IS NULL OR ...)", which would defeat the (status, seq) index.
        String where = (namespace == null ? "" : "namespace = :namespace AND ")
                + (status == null ? "" : "status = :status AND ");
        Query query = h.createQuery(SELECT + "WHERE " + where + "seq < :before ORDER BY seq DESC LIMIT :limit");
        if (namespace != null) query.bind("namespace", namespace);
        if (status != null) query.bind("status", status.wireName());
        // One row more than asked tells whether another page exists without a COUNT.
        List<JobRecord> jobs = query.bind("before", before).bind("limit", (long) limit + 1).map(rows).list();
        if (jobs.size() <= limit) return new JobPage(jobs, null);
        List<JobRecord> page = jobs.subList(0, limit);
        return new JobPage(List.copyOf(page), ListCursor.encode(page.getLast().seq()));
    }

    List<JobRecord> findByStatus(Handle h, JobStatus status, int limit) {
        Objects.requireNonNull(status, "status");
        if (limit < 1) throw new IllegalArgumentException("limit must be at least 1, got " + limit);
        return h.createQuery(SELECT + "WHERE status = :status ORDER BY seq LIMIT :limit")
                .bind("status", status.wireName())
                .bind("limit", limit)
                .map(rows)
                .list();
    }

    List<JobRecord> findOverdue(Handle h, Instant now, int limit) {
        return runningPast(h, "deadline_at", now, limit);
    }

    List<JobRecord> findLeaseExpired(Handle h, Instant now, int limit) {
        return runningPast(h, "lease_expires_at", now, limit);
    }

    /** RUNNING jobs whose running execution's {@code column} (a deadline or lease) is before {@code now}. */
    private List<JobRecord> runningPast(Handle h, String column, Instant now, int limit) {
        if (limit < 1) throw new IllegalArgumentException("limit must be at least 1, got " + limit);
        return h.createQuery("SELECT " + QUALIFIED_COLUMNS + " FROM jobs JOIN executions e ON e.job_id = jobs.id "
                        + "AND e.status = 'running' WHERE jobs.status = 'running' AND e." + column + " < :now "
                        + "ORDER BY e." + column + " LIMIT :limit")
                .bind("now", now.toEpochMilli())
                .bind("limit", limit)
                .map(rows)
                .list();
    }

    TableWrite<Integer> renewLeases(java.util.Collection<String> nodeIds, Instant until) {
        Objects.requireNonNull(until, "until");
        List<String> ids = List.copyOf(nodeIds);
        return h -> ids.isEmpty() ? 0 : executions.renewLeases(h, ids, until);
    }

    TableWrite<Boolean> requestCancel(String jobId) {
        Objects.requireNonNull(jobId, "jobId");
        return h -> executions.requestCancel(h, jobId);
    }

    TableWrite<List<JobStore.Purged>> deleteFinishedBefore(Instant cutoff, int limit) {
        Objects.requireNonNull(cutoff, "cutoff");
        if (limit < 1) throw new IllegalArgumentException("limit must be at least 1, got " + limit);
        List<String> terminal = JobStatus.terminal().stream().map(JobStatus::wireName).sorted().toList();
        return h -> {
            List<JobStore.Purged> purged = h.createQuery("SELECT id, attempt FROM jobs WHERE status IN (<terminal>) "
                            + "AND finished_at < :cutoff ORDER BY finished_at LIMIT :limit")
                    .bindList("terminal", terminal)
                    .bind("cutoff", cutoff.toEpochMilli())
                    .bind("limit", limit)
                    .map((rs, ctx) -> new JobStore.Purged(rs.getString("id"), rs.getInt("attempt")))
                    .list();
            if (purged.isEmpty()) return List.of();
            List<String> ids = purged.stream().map(JobStore.Purged::jobId).toList();
            h.createUpdate("DELETE FROM executions WHERE job_id IN (<ids>)").bindList("ids", ids).execute();
            h.createUpdate("DELETE FROM live_output WHERE job_id IN (<ids>)").bindList("ids", ids).execute();
            // The status guard again: a job can only be terminal here, but deleting is never worth a doubt.
            h.createUpdate("DELETE FROM jobs WHERE id IN (<ids>) AND status IN (<terminal>)")
                    .bindList("ids", ids).bindList("terminal", terminal).execute();
            return purged;
        };
    }

    private static final String QUALIFIED_COLUMNS = java.util.Arrays.stream(COLUMNS.split(",\\s*"))
            .map(c -> "jobs." + c).collect(java.util.stream.Collectors.joining(", "));

    Map<JobStatus, Long> countByStatus(Handle h) {
        Map<JobStatus, Long> counts = new EnumMap<>(JobStatus.class);
        for (JobStatus s : JobStatus.values()) counts.put(s, 0L);
        h.createQuery("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
                .map((rs, ctx) -> Map.entry(JobStatus.fromWire(rs.getString("status")), rs.getLong("n")))
                .forEach(e -> counts.put(e.getKey(), e.getValue()));
        return Collections.unmodifiableMap(counts);
    }

    /** The claim and its execution row, in one write. */
    TableWrite<Boolean> markRunning(JobStore.Claim c) {
        Objects.requireNonNull(c.startedAt(), "startedAt");
        String executionId = ExecutionRequest.executionId(c.id(), c.attempt());
        return transition(c.id(), c.expectedVersion(), JobStatus.RUNNING,
                "attempt = :attempt, node_id = :nodeId, started_at = :startedAt",
                u -> u.bind("attempt", c.attempt()).bind("nodeId", c.nodeId())
                        .bind("startedAt", c.startedAt().toEpochMilli()),
                h -> executions.start(h, executionId, c.id(), c.attempt(), c.nodeId(), c.startedAt(),
                        c.deadlineAt(), c.leaseUntil()));
    }

    TableWrite<Boolean> adopt(String id, long expectedVersion, String nodeId) {
        Objects.requireNonNull(nodeId, "nodeId");
        return h -> h.createUpdate("UPDATE jobs SET version = version + 1 WHERE id = :id AND version = :expectedVersion "
                        + "AND status = :running AND node_id = :nodeId")
                .bind("id", id).bind("expectedVersion", expectedVersion)
                .bind("running", JobStatus.RUNNING.wireName()).bind("nodeId", nodeId).execute() == 1;
    }

    TableWrite<Boolean> requeue(String id, long expectedVersion, String reason, Instant at) {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(at, "at");
        JobError why = new JobError(ErrorType.SANDBOX_ERROR, reason, JobError.PHASE_EXECUTION);
        return transition(id, expectedVersion, JobStatus.QUEUED, "node_id = NULL", u -> u,
                h -> executions.end(h, id, ExecutionStatus.INTERRUPTED, at, null, why));
    }

    List<ExecutionRecord> executions(Handle h, String jobId) {
        return executions.ofJob(h, jobId);
    }

    TableWrite<Boolean> complete(String id, long expectedVersion, JobStatus status, JobResult result,
                                 Instant finishedAt) {
        if (!status.isTerminal()) throw new IllegalArgumentException("complete needs a terminal status, got " + status);
        Objects.requireNonNull(result, "result");
        Objects.requireNonNull(finishedAt, "finishedAt");
        String resultJson = json.writeValueAsString(JobResultJson.toTree(result));
        ExecutionStatus ended = ExecutionStatus.endingJob(status);
        return transition(id, expectedVersion, status, "result_json = :resultJson, finished_at = :finishedAt",
                u -> u.bind("resultJson", resultJson).bind("finishedAt", finishedAt.toEpochMilli()),
                h -> executions.end(h, id, ended, finishedAt, result.exitCode(), result.error()));
    }

    /**
     * Up to {@code limit} of the oldest QUEUED jobs to RUNNING in one statement, as {@link #markRunning} would with
     * each job's next attempt, each with its execution row (no deadline: the caller knows none before it sees the
     * jobs); returns them oldest first. The lock clause (PostgreSQL: {@code FOR UPDATE SKIP
     * LOCKED}) makes concurrent claims take disjoint jobs without waiting for each other; the outer status check
     * drops a row another writer changed after the pick saw it.
     *
     * <p>The pick is a MATERIALIZED CTE, run exactly once, rather than {@code WHERE id IN (SELECT ... LIMIT n)}:
     * PostgreSQL may re-run such a subquery per row, and since SKIP LOCKED also skips the rows this very statement
     * has just updated, each run picks further rows (a limit of 2 claimed 4). Both dialects accept the CTE.
     */
    TableWrite<List<JobRecord>> claimQueued(int limit, String nodeId, Instant startedAt) {
        if (limit < 1) throw new IllegalArgumentException("limit must be at least 1, got " + limit);
        Objects.requireNonNull(startedAt, "startedAt");
        String sql = "WITH picked AS MATERIALIZED (SELECT id FROM jobs WHERE status = :queued ORDER BY seq "
                + "LIMIT :limit" + dialect.lockRowsToClaim() + ") "
                + "UPDATE jobs SET status = :running, version = version + 1, attempt = attempt + 1, "
                + "node_id = :nodeId, started_at = :startedAt "
                + "WHERE status = :queued AND id IN (SELECT id FROM picked) RETURNING " + COLUMNS;
        return h -> {
            List<JobRecord> claimed = new java.util.ArrayList<>(h.createQuery(sql)
                    .bind("running", JobStatus.RUNNING.wireName())
                    .bind("queued", JobStatus.QUEUED.wireName())
                    .bind("nodeId", nodeId)
                    .bind("startedAt", startedAt.toEpochMilli())
                    .bind("limit", limit)
                    .map(rows)
                    .list());
            claimed.sort(java.util.Comparator.comparingLong(JobRecord::seq)); // RETURNING has no order
            for (JobRecord j : claimed) {
                executions.start(h, ExecutionRequest.executionId(j.id(), j.attempt()), j.id(), j.attempt(), nodeId,
                        startedAt, null);
            }
            return List.copyOf(claimed);
        };
    }

    private interface Bindings {
        Update bind(Update update);
    }

    /** What else a transition changes, in its transaction, once its compare-and-set applied. */
    private interface OnApplied {
        void run(Handle h);
    }

    /** The one compare-and-set: applies iff the row has {@code expectedVersion} and may move to {@code to}. */
    private static TableWrite<Boolean> transition(String id, long expectedVersion, JobStatus to,
                                                  String setColumns, Bindings bindings, OnApplied onApplied) {
        List<String> from = Arrays.stream(JobStatus.values())
                .filter(s -> s.canTransitionTo(to))
                .map(JobStatus::wireName)
                .toList();
        if (from.isEmpty()) return h -> false;
        return h -> {
            Update update = h.createUpdate(
                            "UPDATE jobs SET status = :to, version = version + 1, " + setColumns + CAS_GUARD)
                    .bind("to", to.wireName())
                    .bind("id", id)
                    .bind("expectedVersion", expectedVersion)
                    .bindList("fromStatuses", from);
            if (bindings.bind(update).execute() != 1) return false;
            onApplied.run(h);
            return true;
        };
    }
}
