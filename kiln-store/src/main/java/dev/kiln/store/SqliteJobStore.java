package dev.kiln.store;

import com.zaxxer.hikari.HikariDataSource;
import dev.kiln.core.ExecutionRecord;
import dev.kiln.core.StoreHealth;
import dev.kiln.core.JobPage;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobStore;
import dev.kiln.core.JobTypeStore;
import dev.kiln.core.NewJob;
import dev.kiln.core.SharedQueue;
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
 * {@link JobStore} in a SQLite file ({@code <dataDir>/kiln.db}). Writes are handed to a {@link GroupCommitter},
 * which runs them on the single writer connection (see {@link SqliteDataSources}) in batches, one transaction and
 * one {@code synchronous=FULL} commit per batch (a lone caller's write is a batch of one, run on its own thread);
 * a write method returns only after the commit holding its write,
 * so a method that returned has its change on disk. Reads use their own pool and never wait for the committer.
 * Instants are stored with millisecond precision.
 */
public final class SqliteJobStore implements JobStore, SharedQueue {
    public static final String DB_FILE_NAME = "kiln.db";
    private static final Logger log = LoggerFactory.getLogger(SqliteJobStore.class);

    private final HikariDataSource writerPool;
    private final HikariDataSource readerPool;
    private final GroupCommitter committer;
    private final Jdbi reader;
    private final JobsTable jobs = new JobsTable(SqlDialect.SQLITE);
    private final StoreFailures failures = new StoreFailures();

    private SqliteJobStore(HikariDataSource writerPool, HikariDataSource readerPool) {
        this.writerPool = writerPool;
        this.readerPool = readerPool;
        this.committer = new GroupCommitter(Jdbi.create(writerPool));
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
            SchemaMigrator.migrate(SqliteDataSources.direct(dbFile), SqlDialect.SQLITE);
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
        var write = jobs.insert(job);
        return failures.write(() -> committer.run(write));
    }

    @Override
    public Optional<JobRecord> find(String id) {
        return failures.read(() -> reader.withHandle(h -> jobs.find(h, id)));
    }

    @Override
    public Optional<JobRecord> findByIdempotencyKey(String key, Instant notBefore) {
        return failures.read(() -> reader.withHandle(h -> jobs.findByIdempotencyKey(h, key, notBefore)));
    }

    @Override
    public JobPage list(String namespace, JobStatus status, int limit, String cursor) {
        return failures.read(() -> reader.withHandle(h -> jobs.list(h, namespace, status, limit, cursor)));
    }

    @Override
    public List<JobRecord> findByStatus(JobStatus status, int limit) {
        return failures.read(() -> reader.withHandle(h -> jobs.findByStatus(h, status, limit)));
    }

    /**
     * The whole round in one write, so one commit, and an unsynced one: a claim survives a crash of this process but
     * a power loss may undo it, which only puts the jobs back in the queue uncounted (their sandboxes died too).
     */
    @Override
    public List<Boolean> markRunning(List<Claim> claims) {
        List<TableWrite<Boolean>> writes = new java.util.ArrayList<>(claims.size());
        for (Claim c : claims) writes.add(jobs.markRunning(c));
        return failures.write(() -> committer.runUnsynced(h -> {
            List<Boolean> applied = new java.util.ArrayList<>(writes.size());
            for (TableWrite<Boolean> w : writes) applied.add(w.applyTo(h));
            return applied;
        }));
    }

    /** Needs no row locks: a SQLite transaction holds the database write lock, so no other claim runs meanwhile. */
    @Override
    public List<JobRecord> claimQueued(int limit, String nodeId, Instant startedAt) {
        var write = jobs.claimQueued(limit, nodeId, startedAt);
        return failures.write(() -> committer.run(write));
    }

    @Override
    public boolean adopt(String id, long expectedVersion, String nodeId) {
        var write = jobs.adopt(id, expectedVersion, nodeId);
        return failures.write(() -> committer.run(write));
    }

    @Override
    public boolean requeue(String id, long expectedVersion, String reason, Instant at) {
        var write = jobs.requeue(id, expectedVersion, reason, at);
        return failures.write(() -> committer.run(write));
    }

    @Override
    public boolean complete(String id, long expectedVersion, JobStatus status, JobResult result, Instant finishedAt) {
        var write = jobs.complete(id, expectedVersion, status, result, finishedAt);
        return failures.write(() -> committer.run(write));
    }

    @Override
    public List<JobRecord> findOverdue(Instant now, int limit) {
        return failures.read(() -> reader.withHandle(h -> jobs.findOverdue(h, now, limit)));
    }

    @Override
    public List<JobRecord> findLeaseExpired(Instant now, int limit) {
        return failures.read(() -> reader.withHandle(h -> jobs.findLeaseExpired(h, now, limit)));
    }

    /** Unsynced like the claims: a lease lost to a power loss only makes a live execution look older. */
    @Override
    public int renewLeases(java.util.Collection<String> nodeIds, Instant until) {
        var write = jobs.renewLeases(nodeIds, until);
        return failures.write(() -> committer.runUnsynced(write));
    }

    @Override
    public boolean requestCancel(String jobId) {
        var write = jobs.requestCancel(jobId);
        return failures.write(() -> committer.run(write));
    }

    @Override
    public List<Purged> deleteFinishedBefore(Instant cutoff, int limit) {
        var write = jobs.deleteFinishedBefore(cutoff, limit);
        return failures.write(() -> committer.run(write));
    }

    @Override
    public List<ExecutionRecord> executions(String jobId) {
        return failures.read(() -> reader.withHandle(h -> jobs.executions(h, jobId)));
    }

    /** Live output mirrored for followers on other replicas, in the same database. */
    public dev.kiln.core.LiveOutputStore liveOutput() {
        return new SqlLiveOutputStore(committer::run, reader, failures);
    }

    /** Node join tokens (their hashes), in the same database. */
    public dev.kiln.core.NodeTokenStore nodeTokens() {
        return new SqlNodeTokenStore(committer::run, reader, failures);
    }

    /** API keys (their hashes), in the same database. */
    public dev.kiln.core.KeyStore keys() {
        return new SqlKeyStore(committer::run, reader, failures);
    }

    /** Nodes as every replica sees them, in the same database; written the same way as the jobs. */
    public dev.kiln.core.NodeStore nodes() {
        return new SqlNodeStore(committer::run, reader, failures);
    }

    /** Run-time job types, stored in the same database; their writes go through the same committer. */
    public JobTypeStore jobTypes() {
        return new SqlJobTypeStore(committer::run, reader, failures);
    }

    @Override
    public Map<JobStatus, Long> countByStatus() {
        return failures.read(() -> reader.withHandle(jobs::countByStatus));
    }

    /** Unhealthy when the database does not answer, or while the latest operation failed (a full disk fails writes only). */
    @Override
    public StoreHealth health() {
        if (!isHealthy()) return StoreHealth.failing("the database does not answer", java.time.Instant.now());
        return failures.health();
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

    /** Commits the writes already handed in, then closes; later writes throw {@link IllegalStateException}. */
    @Override
    public void close() {
        committer.close(); // first: it still needs the writer connection for what is queued
        readerPool.close();
        writerPool.close();
    }

    /** For tests: its stats, and a way to run arbitrary writes in a batch the way the methods above do. */
    GroupCommitter committer() {
        return committer;
    }
}
