package dev.kiln.store;

import dev.kiln.core.KeyStore;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

/** The key store contract against a real PostgreSQL; one database, emptied before each test. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresKeyStoreContractTest extends KeyStoreContract {
    private static TestDatabase database;
    private PostgresJobStore store;

    @BeforeAll
    static void createDatabase() {
        database = TestPostgres.shared().newDatabase("key_store_contract");
    }

    @AfterAll
    static void dropDatabase() {
        database.close();
    }

    @Override
    protected KeyStore keys() {
        database.reset();
        store = PostgresJobStore.open(PostgresJobStoreContractTest.postgres(database.storeUrl()));
        return store.keys();
    }

    @AfterEach
    void close() {
        if (store != null) store.close();
    }
}
