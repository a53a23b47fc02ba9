package dev.kiln.store;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRecord;
import dev.kiln.core.ExecutionStatus;
import dev.kiln.core.JobError;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import org.jdbi.v3.core.Handle;

/**
 * Every SQL statement against {@code executions}. The rows move only together with their job's transition (see
 * {@link JobsTable}): these methods run on the handle, inside the transaction, of a job write that applied. Portable
 * SQL, like JobsTable's.
 */
final class ExecutionsTable {
    private static final String COLUMNS = "id, job_id, attempt, node_id, status, started_at, deadline_at, "
            + "finished_at, cancel_requested, exit_code, error_type, error_message, error_phase, lease_expires_at";

    /** At most this many node ids in one statement's IN list. */
    private static final int NODES_PER_STATEMENT = 500;

    void start(Handle h, String executionId, String jobId, int attempt, String nodeId, Instant startedAt,
               Instant deadlineAt) {
        start(h, executionId, jobId, attempt, nodeId, startedAt, deadlineAt, null);
    }

    void start(Handle h, String executionId, String jobId, int attempt, String nodeId, Instant startedAt,
               Instant deadlineAt, Instant leaseUntil) {
        h.createUpdate("INSERT INTO executions (id, job_id, attempt, node_id, status, started_at, deadline_at, "
                        + "lease_expires_at) "
                        + "VALUES (:id, :jobId, :attempt, :nodeId, 'running', :startedAt, :deadlineAt, :lease)")
                .bind("lease", leaseUntil == null ? null : leaseUntil.toEpochMilli())
                .bind("id", executionId)
                .bind("jobId", jobId)
                .bind("attempt", attempt)
                .bind("nodeId", nodeId)
                .bind("startedAt", startedAt.toEpochMilli())
                .bind("deadlineAt", deadlineAt == null ? null : deadlineAt.toEpochMilli())
                .execute();
    }

    /** Ends the job's running execution, if it has one (a job ended while queued has none). */
    void end(Handle h, String jobId, ExecutionStatus status, Instant finishedAt, Integer exitCode, JobError error) {
        h.createUpdate("UPDATE executions SET status = :status, finished_at = :finishedAt, exit_code = :exitCode, "
                        + "error_type = :errorType, error_message = :errorMessage, error_phase = :errorPhase "
                        + "WHERE job_id = :jobId AND status = 'running'")
                .bind("status", status.wireName())
                .bind("finishedAt", finishedAt.toEpochMilli())
                .bind("exitCode", exitCode)
                .bind("errorType", error == null ? null : error.type().wireName())
                .bind("errorMessage", error == null ? null : error.message())
                .bind("errorPhase", error == null ? null : error.phase())
                .bind("jobId", jobId)
                .execute();
    }

    int renewLeases(Handle h, java.util.Collection<String> nodeIds, Instant until) {
        List<String> ids = List.copyOf(nodeIds);
        int renewed = 0;
        for (int from = 0; from < ids.size(); from += NODES_PER_STATEMENT) {
            renewed += h.createUpdate("UPDATE executions SET lease_expires_at = :until "
                            + "WHERE status = 'running' AND node_id IN (<nodes>)")
                    .bind("until", until.toEpochMilli())
                    .bindList("nodes", ids.subList(from, Math.min(ids.size(), from + NODES_PER_STATEMENT)))
                    .execute();
        }
        return renewed;
    }

    boolean requestCancel(Handle h, String jobId) {
        return h.createUpdate("UPDATE executions SET cancel_requested = 1 WHERE job_id = :jobId AND status = 'running'")
                .bind("jobId", jobId)
                .execute() > 0;
    }

    List<ExecutionRecord> ofJob(Handle h, String jobId) {
        return h.createQuery("SELECT " + COLUMNS + " FROM executions WHERE job_id = :jobId ORDER BY attempt")
                .bind("jobId", jobId)
                .map((rs, ctx) -> row(rs))
                .list();
    }

    private static ExecutionRecord row(ResultSet rs) throws SQLException {
        String errorType = rs.getString("error_type");
        JobError error = errorType == null ? null : new JobError(ErrorType.fromWire(errorType),
                rs.getString("error_message"), rs.getString("error_phase"));
        int exit = rs.getInt("exit_code");
        Integer exitCode = rs.wasNull() ? null : exit;
        return new ExecutionRecord(rs.getString("id"), rs.getString("job_id"), rs.getInt("attempt"),
                rs.getString("node_id"), ExecutionStatus.fromWire(rs.getString("status")),
                instant(rs, "started_at"), instant(rs, "deadline_at"), instant(rs, "finished_at"),
                rs.getInt("cancel_requested") != 0, exitCode, error, instant(rs, "lease_expires_at"));
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        long millis = rs.getLong(column);
        return rs.wasNull() ? null : Instant.ofEpochMilli(millis);
    }
}
