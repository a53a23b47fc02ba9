package dev.kiln.store;

import dev.kiln.core.KeyStore;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

class SqliteKeyStoreContractTest extends KeyStoreContract {
    @TempDir
    Path dataDir;
    private SqliteJobStore store;

    @Override
    protected KeyStore keys() {
        store = SqliteJobStore.open(dataDir);
        return store.keys();
    }

    @AfterEach
    void close() {
        if (store != null) store.close();
    }
}
