package dev.kiln.store;

import dev.kiln.core.ArtifactStore;
import dev.kiln.core.JobStore;
import dev.kiln.core.JobTypeStore;
import dev.kiln.core.KeyStore;
import dev.kiln.core.Leadership;
import dev.kiln.core.LiveOutputStore;
import dev.kiln.core.NodeStore;
import dev.kiln.core.NodeTokenStore;
import dev.kiln.core.StoreSignals;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The stores a server runs on, opened from its {@code store} setting: SQLite in the data directory with artifacts as
 * files there, or one PostgreSQL database holding jobs, job types, nodes and artifacts. With them come the
 * {@link StoreSignals} and the {@link Leadership} that fit the store: for PostgreSQL, which several replicas may
 * share, {@code LISTEN/NOTIFY} ({@link PostgresSignals}) and an advisory lock ({@link PostgresLeadership}); for
 * SQLite, which one process owns, {@link StoreSignals#inProcess()} and {@link Leadership#SOLE}. Closing closes all.
 */
public record Stores(JobStore jobs, JobTypeStore jobTypes, ArtifactStore artifacts, NodeStore nodes,
                     KeyStore keys, NodeTokenStore nodeTokens, LiveOutputStore liveOutput, StoreSignals signals,
                     Leadership leadership) implements AutoCloseable {

    /** Stores only this process uses: in-process signals, always the leader, no followers elsewhere. */
    public Stores(JobStore jobs, JobTypeStore jobTypes, ArtifactStore artifacts, NodeStore nodes, KeyStore keys,
                  NodeTokenStore nodeTokens) {
        this(jobs, jobTypes, artifacts, nodes, keys, nodeTokens, LiveOutputStore.NONE, StoreSignals.inProcess(),
                Leadership.SOLE);
    }

    /**
     * @throws StoreOpenException when PostgreSQL is unreachable, refuses the login or the migration
     * @throws IOException               when the data directory's artifacts cannot be opened (SQLite)
     */
    public static Stores open(StoreLocation location, Path dataDir) throws IOException {
        return switch (location) {
            case StoreLocation.Sqlite ignored -> {
                SqliteJobStore store = SqliteJobStore.open(dataDir);
                try {
                    yield new Stores(store, store.jobTypes(), FileArtifactStore.open(dataDir), store.nodes(),
                            store.keys(), store.nodeTokens());
                } catch (IOException | RuntimeException e) {
                    store.close();
                    throw e;
                }
            }
            case StoreLocation.Postgres postgres -> {
                PostgresJobStore store = PostgresJobStore.open(postgres);
                PostgresSignals signals = null;
                try {
                    signals = PostgresSignals.open(postgres, store.dataSource());
                    PostgresLeadership leadership = PostgresLeadership.open(postgres);
                    yield new Stores(store, store.jobTypes(), store.artifacts(), store.nodes(), store.keys(),
                            store.nodeTokens(), store.liveOutput(), signals, leadership);
                } catch (RuntimeException e) {
                    if (signals != null) signals.close();
                    store.close();
                    throw e;
                }
            }
        };
    }

    /** Leadership and signals first (their own connections, and the signals publish through the pool), then the pools. */
    @Override
    public void close() {
        try {
            leadership.close();
        } finally {
            try {
                signals.close();
            } finally {
                jobs.close(); // the job types and artifacts share its database connections
            }
        }
    }
}
