package dev.kiln.store;

import dev.kiln.core.JobRecord;
import dev.kiln.core.JobStatus;
import dev.kiln.json.JobResultJson;
import dev.kiln.json.JobSpecJson;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import org.jdbi.v3.core.mapper.RowMapper;
import org.jdbi.v3.core.statement.StatementContext;
import tools.jackson.databind.json.JsonMapper;

/** Maps a row of {@code jobs} (all of {@link JobsTable#COLUMNS}) to a {@link JobRecord}. */
final class JobRowMapper implements RowMapper<JobRecord> {
    private final JsonMapper json;

    JobRowMapper(JsonMapper json) {
        this.json = json;
    }

    @Override
    public JobRecord map(ResultSet rs, StatementContext ctx) throws SQLException {
        String resultJson = rs.getString("result_json");
        return new JobRecord(
                rs.getString("id"),
                rs.getLong("seq"),
                JobStatus.fromWire(rs.getString("status")),
                JobSpecJson.fromTree(json.readTree(rs.getString("spec_json"))),
                rs.getString("spec_hash"),
                rs.getString("idempotency_key"),
                rs.getInt("attempt"),
                rs.getInt("max_attempts"),
                rs.getLong("version"),
                rs.getString("node_id"),
                instant(rs, "created_at"),
                instant(rs, "started_at"),
                instant(rs, "finished_at"),
                resultJson == null ? null : JobResultJson.fromTree(json.readTree(resultJson)),
                rs.getString("namespace"),
                rs.getString("submitted_by"));
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        long millis = rs.getLong(column);
        return rs.wasNull() ? null : Instant.ofEpochMilli(millis);
    }
}
