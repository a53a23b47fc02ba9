package dev.kiln.store;

import dev.kiln.core.LiveOutputStore;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresLiveOutputStoreTest extends LiveOutputStoreContract {
    private static TestDatabase database;
    private PostgresJobStore store;

    @BeforeAll
    static void createDatabase() {
        database = TestPostgres.shared().newDatabase("live_output");
    }

    @AfterAll
    static void dropDatabase() {
        database.close();
    }

    @Override
    protected LiveOutputStore liveOutput() {
        database.reset();
        store = PostgresJobStore.open(PostgresJobStoreContractTest.postgres(database.storeUrl()));
        return store.liveOutput();
    }

    @AfterEach
    void close() {
        if (store != null) store.close();
    }
}
