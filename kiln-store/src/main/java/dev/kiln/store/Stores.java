package dev.kiln.store;

import dev.kiln.core.ArtifactStore;
import dev.kiln.core.JobStore;
import dev.kiln.core.JobTypeStore;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The stores a server runs on, opened from its {@code store} setting: SQLite in the data directory with artifacts as
 * files there, or one PostgreSQL database holding jobs, job types and artifacts. Closing closes all three.
 */
public record Stores(JobStore jobs, JobTypeStore jobTypes, ArtifactStore artifacts) implements AutoCloseable {

    /**
     * @throws StoreOpenException when PostgreSQL is unreachable, refuses the login or the migration
     * @throws IOException               when the data directory's artifacts cannot be opened (SQLite)
     */
    public static Stores open(StoreLocation location, Path dataDir) throws IOException {
        return switch (location) {
            case StoreLocation.Sqlite ignored -> {
                SqliteJobStore store = SqliteJobStore.open(dataDir);
                try {
                    yield new Stores(store, store.jobTypes(), FileArtifactStore.open(dataDir));
                } catch (IOException | RuntimeException e) {
                    store.close();
                    throw e;
                }
            }
            case StoreLocation.Postgres postgres -> {
                PostgresJobStore store = PostgresJobStore.open(postgres);
                yield new Stores(store, store.jobTypes(), store.artifacts());
            }
        };
    }

    @Override
    public void close() {
        jobs.close(); // the job types and artifacts share its database connections
    }
}
