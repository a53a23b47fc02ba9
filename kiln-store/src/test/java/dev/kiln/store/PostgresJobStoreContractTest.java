package dev.kiln.store;

import dev.kiln.core.JobStore;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

/** The job store contract against a real PostgreSQL ({@link TestPostgres}); one database, emptied before each test. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresJobStoreContractTest extends JobStoreContract implements SharedQueueContract {
    private static TestDatabase database;

    @BeforeAll
    static void createDatabase() {
        database = TestPostgres.shared().newDatabase("job_store_contract");
    }

    @AfterAll
    static void dropDatabase() {
        database.close();
    }

    @Override
    protected void emptyStorage() {
        database.reset();
    }

    @Override
    protected JobStore createStore() {
        return PostgresJobStore.open(postgres(database.storeUrl()));
    }

    static StoreLocation.Postgres postgres(String url) {
        return (StoreLocation.Postgres) StoreLocation.parse(url);
    }
}
