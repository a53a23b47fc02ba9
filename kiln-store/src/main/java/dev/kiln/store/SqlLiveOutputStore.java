package dev.kiln.store;

import dev.kiln.core.LiveOutputStore;
import java.util.List;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;

/** Mirrored live output in the jobs' database (table {@code live_output}); writes as the job store writes. */
final class SqlLiveOutputStore implements LiveOutputStore {
    private final TableWrite.Runner writes;
    private final Jdbi reader;
    private final StoreFailures failures;

    SqlLiveOutputStore(TableWrite.Runner writes, Jdbi reader, StoreFailures failures) {
        this.writes = writes;
        this.reader = reader;
        this.failures = failures;
    }

    @Override
    public void append(String jobId, List<StoredChunk> chunks) {
        if (chunks.isEmpty()) return;
        failures.write(() -> writes.run(h -> {
            // A chunk written twice (a flush retried after an unclear failure) stays one row.
            PreparedBatch batch = h.prepareBatch("INSERT INTO live_output (job_id, seq, stream, text) "
                    + "VALUES (:job, :seq, :stream, :text) ON CONFLICT (job_id, seq) DO NOTHING");
            for (StoredChunk c : chunks) {
                batch.bind("job", jobId).bind("seq", c.seq()).bind("stream", c.stream()).bind("text", c.text()).add();
            }
            return batch.execute().length;
        }));
    }

    @Override
    public List<StoredChunk> since(String jobId, long afterSeq, int limit) {
        return failures.read(() -> reader.withHandle(h -> h.createQuery("SELECT seq, stream, text FROM live_output "
                        + "WHERE job_id = :job AND seq > :after ORDER BY seq LIMIT :limit")
                .bind("job", jobId).bind("after", afterSeq).bind("limit", limit)
                .map((rs, ctx) -> new StoredChunk(rs.getLong("seq"), rs.getString("stream"), rs.getString("text")))
                .list()));
    }

    @Override
    public void delete(String jobId) {
        failures.write(() -> writes.run(h -> h.createUpdate("DELETE FROM live_output WHERE job_id = :job")
                .bind("job", jobId).execute()));
    }
}
