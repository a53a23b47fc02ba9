package dev.kiln.store;

import dev.kiln.core.NodeTokenStore;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

/** The node token store contract against a real PostgreSQL; one database, emptied before each test. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresNodeTokenStoreContractTest extends NodeTokenStoreContract {
    private static TestDatabase database;
    private PostgresJobStore store;

    @BeforeAll
    static void createDatabase() {
        database = TestPostgres.shared().newDatabase("node_token_contract");
    }

    @AfterAll
    static void dropDatabase() {
        database.close();
    }

    @Override
    protected NodeTokenStore tokens() {
        database.reset();
        store = PostgresJobStore.open(PostgresJobStoreContractTest.postgres(database.storeUrl()));
        return store.nodeTokens();
    }

    @AfterEach
    void close() {
        if (store != null) store.close();
    }
}
