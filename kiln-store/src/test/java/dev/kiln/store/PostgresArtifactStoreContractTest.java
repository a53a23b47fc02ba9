package dev.kiln.store;

import dev.kiln.core.ArtifactStore;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

/** The artifact store contract with the artifacts in PostgreSQL; each instance is its own store (a replica). */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresArtifactStoreContractTest extends ArtifactStoreContract {
    private static TestDatabase database;
    private final List<PostgresJobStore> opened = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        database = TestPostgres.shared().newDatabase("artifact_contract");
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
    protected ArtifactStore openStore() {
        PostgresJobStore store = PostgresJobStore.open(PostgresJobStoreContractTest.postgres(database.storeUrl()));
        opened.add(store);
        return store.artifacts();
    }

    @AfterEach
    void closeStores() {
        opened.forEach(PostgresJobStore::close);
    }
}
