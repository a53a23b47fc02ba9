package dev.kiln.store;

import com.zaxxer.hikari.HikariDataSource;
import dev.kiln.core.JobPage;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobStore;
import dev.kiln.core.JobTypeStore;
import dev.kiln.core.NewJob;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link JobStore} in a SQLite file ({@code <dataDir>/kiln.db}). Writes go through a single pooled connection
 * (see {@link SqliteDataSources}) and commit with {@code synchronous=FULL}, so a method that returned has its
 * change on disk. Instants are stored with millisecond precision.
 */
public final class SqliteJobStore implements JobStore {
    public static final String DB_FILE_NAME = "kiln.db";
    private static final Logger log = LoggerFactory.getLogger(SqliteJobStore.class);

    private final HikariDataSource writerPool;
    private final HikariDataSource readerPool;
    private final Jdbi writer;
    private final Jdbi reader;
    private final JobsTable jobs = new JobsTable(new JobJsonMapper());

    private SqliteJobStore(HikariDataSource writerPool, HikariDataSource readerPool) {
        this.writerPool = writerPool;
        this.readerPool = readerPool;
        this.writer = Jdbi.create(writerPool);
        this.reader = Jdbi.create(readerPool);
    }

    /**
     * Opens (creating if needed) {@code dataDir/kiln.db} and migrates its schema.
     *
     * @throws UncheckedIOException when the directory cannot be created
     */
    public static SqliteJobStore open(Path dataDir) {
        Path dbFile = dataDir.resolve(DB_FILE_NAME).toAbsolutePath();
        try {
            Files.createDirectories(dataDir);
            SchemaMigrator.migrate(SqliteDataSources.direct(dbFile), SchemaMigrator.SQLITE);
            // The new database file's directory entry must itself be durable before we accept jobs into it.
            Fsync.directory(dbFile.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open job store in " + dataDir, e);
        }
        HikariDataSource writerPool = SqliteDataSources.writerPool(dbFile);
        HikariDataSource readerPool;
        try {
            readerPool = SqliteDataSources.readerPool(dbFile);
        } catch (RuntimeException e) {
            writerPool.close();
            throw e;
        }
        log.info("job store opened at {}", dbFile);
        return new SqliteJobStore(writerPool, readerPool);
    }

    @Override
    public Inserted insert(NewJob job) {
        return writer.inTransaction(h -> jobs.insert(h, job));
    }

    @Override
    public Optional<JobRecord> find(String id) {
        return reader.withHandle(h -> jobs.find(h, id));
    }

    @Override
    public JobPage list(JobStatus status, int limit, String cursor) {
        return reader.withHandle(h -> jobs.list(h, status, limit, cursor));
    }

    @Override
    public List<JobRecord> findByStatus(JobStatus status, int limit) {
        return reader.withHandle(h -> jobs.findByStatus(h, status, limit));
    }

    @Override
    public boolean markRunning(String id, long expectedVersion, int attempt, String nodeId, Instant startedAt) {
        return writer.withHandle(h -> jobs.markRunning(h, id, expectedVersion, attempt, nodeId, startedAt));
    }

    @Override
    public boolean requeue(String id, long expectedVersion) {
        return writer.withHandle(h -> jobs.requeue(h, id, expectedVersion));
    }

    @Override
    public boolean complete(String id, long expectedVersion, JobStatus status, JobResult result, Instant finishedAt) {
        return writer.withHandle(h -> jobs.complete(h, id, expectedVersion, status, result, finishedAt));
    }

    /** Run-time job types, stored in the same database. */
    public JobTypeStore jobTypes() {
        return new SqliteJobTypeStore(writer, reader);
    }

    @Override
    public Map<JobStatus, Long> countByStatus() {
        return reader.withHandle(jobs::countByStatus);
    }

    @Override
    public boolean isHealthy() {
        try {
            return reader.withHandle(h -> h.createQuery("SELECT 1").mapTo(Integer.class).one()) == 1;
        } catch (RuntimeException e) {
            log.warn("job store health check failed: {}", e.toString());
            return false;
        }
    }

    @Override
    public void close() {
        readerPool.close();
        writerPool.close();
    }
}
