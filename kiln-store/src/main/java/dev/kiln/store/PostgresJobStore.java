package dev.kiln.store;

import com.zaxxer.hikari.HikariDataSource;
import dev.kiln.core.ArtifactStore;
import dev.kiln.core.ExecutionRecord;
import dev.kiln.core.JobPage;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobStore;
import dev.kiln.core.JobTypeStore;
import dev.kiln.core.NewJob;
import dev.kiln.core.SharedQueue;
import dev.kiln.core.StoreHealth;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link JobStore} in a PostgreSQL database, with the same SQL as SQLite ({@link JobsTable}). PostgreSQL has real
 * concurrency, so there is no group committer: each write is its own transaction on a pooled connection (a batch of
 * claims is one), and a method returns once its commit did. The compare-and-set guards hold across processes too:
 * under READ COMMITTED a second UPDATE of the same row waits for the first, then re-checks its version and finds it
 * changed. {@link #claimQueued} is the claim several replicas can run at once.
 *
 * <p>The job types and the artifacts live in the same database ({@link #jobTypes}, {@link #artifacts}), so that every
 * replica reads the same ones. The database's own failures (unreachable, connection lost) become
 * {@link dev.kiln.core.StoreUnavailableException}s, as under SQLite ({@link StoreFailures}).
 */
public final class PostgresJobStore implements JobStore, SharedQueue {
    private static final Logger log = LoggerFactory.getLogger(PostgresJobStore.class);

    private final StoreLocation.Postgres location;
    private final HikariDataSource pool;
    private final Jdbi jdbi;
    private final JobsTable jobs = new JobsTable(SqlDialect.POSTGRESQL);
    private final StoreFailures failures = new StoreFailures();

    private PostgresJobStore(StoreLocation.Postgres location, HikariDataSource pool) {
        this.location = location;
        this.pool = pool;
        this.jdbi = Jdbi.create(pool);
    }

    /**
     * Connects and migrates the schema (Flyway's lock lets several replicas start at once).
     *
     * @throws StoreOpenException when the database is unreachable, refuses the login or the migration
     */
    public static PostgresJobStore open(StoreLocation.Postgres location) {
        HikariDataSource pool = PostgresDataSources.pool(location);
        try {
            SchemaMigrator.migrate(pool, SqlDialect.POSTGRESQL);
        } catch (RuntimeException e) {
            pool.close();
            throw new StoreOpenException("cannot migrate the schema of " + location + ": "
                    + StoreOpenException.rootMessage(e), e);
        }
        log.info("job store opened at {}", location);
        return new PostgresJobStore(location, pool);
    }

    /** One transaction per write, committed before this returns. */
    <T> T write(TableWrite<T> write) {
        return failures.write(() -> jdbi.inTransaction(write::applyTo));
    }

    private <T> T read(org.jdbi.v3.core.HandleCallback<T, RuntimeException> query) {
        return failures.read(() -> jdbi.withHandle(query));
    }

    @Override
    public Inserted insert(NewJob job) {
        return write(jobs.insert(job));
    }

    @Override
    public Optional<JobRecord> find(String id) {
        return read(h -> jobs.find(h, id));
    }

    @Override
    public Optional<JobRecord> findByIdempotencyKey(String key, Instant notBefore) {
        return read(h -> jobs.findByIdempotencyKey(h, key, notBefore));
    }

    @Override
    public JobPage list(String namespace, JobStatus status, int limit, String cursor) {
        return read(h -> jobs.list(h, namespace, status, limit, cursor));
    }

    @Override
    public List<JobRecord> findByStatus(JobStatus status, int limit) {
        return read(h -> jobs.findByStatus(h, status, limit));
    }

    /**
     * The whole round in one transaction, each claim with its execution row. Rows are updated in id order, so two
     * replicas claiming overlapping rounds lock rows in the same order and cannot deadlock.
     */
    @Override
    public List<Boolean> markRunning(List<Claim> claims) {
        List<Integer> order = new ArrayList<>();
        List<TableWrite<Boolean>> writes = new ArrayList<>(claims.size());
        for (int i = 0; i < claims.size(); i++) {
            order.add(i);
            writes.add(jobs.markRunning(claims.get(i)));
        }
        order.sort(Comparator.comparing(i -> claims.get(i).id()));
        if (writes.isEmpty()) return List.of();
        return write(h -> {
            Boolean[] applied = new Boolean[writes.size()];
            for (int i : order) applied[i] = writes.get(i).applyTo(h);
            return List.of(applied);
        });
    }

    /**
     * One statement: the oldest queued ids picked {@code FOR UPDATE SKIP LOCKED} (in a MATERIALIZED CTE, see
     * {@link JobsTable#claimQueued}), updated, {@code RETURNING} the rows; replicas running it at once never wait
     * for each other and never take the same job.
     */
    @Override
    public List<JobRecord> claimQueued(int limit, String nodeId, Instant startedAt) {
        return write(jobs.claimQueued(limit, nodeId, startedAt));
    }

    @Override
    public boolean adopt(String id, long expectedVersion, String nodeId) {
        return write(jobs.adopt(id, expectedVersion, nodeId));
    }

    @Override
    public boolean requeue(String id, long expectedVersion, String reason, Instant at) {
        return write(jobs.requeue(id, expectedVersion, reason, at));
    }

    @Override
    public boolean complete(String id, long expectedVersion, JobStatus status, JobResult result, Instant finishedAt) {
        return write(jobs.complete(id, expectedVersion, status, result, finishedAt));
    }

    @Override
    public List<JobRecord> findOverdue(Instant now, int limit) {
        return read(h -> jobs.findOverdue(h, now, limit));
    }

    @Override
    public List<JobRecord> findLeaseExpired(Instant now, int limit) {
        return read(h -> jobs.findLeaseExpired(h, now, limit));
    }

    @Override
    public int renewLeases(java.util.Collection<String> nodeIds, Instant until) {
        return write(jobs.renewLeases(nodeIds, until));
    }

    @Override
    public boolean requestCancel(String jobId) {
        return write(jobs.requestCancel(jobId));
    }

    @Override
    public List<Purged> deleteFinishedBefore(Instant cutoff, int limit) {
        return write(jobs.deleteFinishedBefore(cutoff, limit));
    }

    @Override
    public List<ExecutionRecord> executions(String jobId) {
        return read(h -> jobs.executions(h, jobId));
    }

    @Override
    public Map<JobStatus, Long> countByStatus() {
        return read(jobs::countByStatus);
    }

    /** Live output mirrored for followers on other replicas, in the same database. */
    public dev.kiln.core.LiveOutputStore liveOutput() {
        return new SqlLiveOutputStore(this::write, jdbi, failures);
    }

    /** Node join tokens (their hashes), in the same database. */
    public dev.kiln.core.NodeTokenStore nodeTokens() {
        return new SqlNodeTokenStore(this::write, jdbi, failures);
    }

    /** API keys (their hashes), in the same database. */
    public dev.kiln.core.KeyStore keys() {
        return new SqlKeyStore(this::write, jdbi, failures);
    }

    /** Nodes as every replica sees them, in the same database; written the same way as the jobs. */
    public dev.kiln.core.NodeStore nodes() {
        return new SqlNodeStore(this::write, jdbi, failures);
    }

    /** Run-time job types, in the same database. */
    public JobTypeStore jobTypes() {
        return new SqlJobTypeStore(this::write, jdbi, failures);
    }

    /** Artifacts, in the same database: readable from every replica. */
    public ArtifactStore artifacts() {
        return new PostgresArtifactStore(jdbi, failures);
    }

    /** The store's pool, for what shares its connections ({@link PostgresSignals}' publishes). */
    javax.sql.DataSource dataSource() {
        return pool;
    }

    @Override
    public boolean isHealthy() {
        try {
            return jdbi.withHandle(h -> h.createQuery("SELECT 1").mapTo(Integer.class).one()) == 1;
        } catch (RuntimeException e) {
            log.warn("job store health check failed ({}): {}", location, e.toString());
            return false;
        }
    }

    /** Unhealthy when the database does not answer, or while the latest read or write failed. */
    @Override
    public StoreHealth health() {
        if (!isHealthy()) return StoreHealth.failing("the database does not answer", Instant.now());
        return failures.health();
    }

    @Override
    public void close() {
        pool.close();
    }
}
