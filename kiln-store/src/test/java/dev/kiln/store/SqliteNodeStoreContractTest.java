package dev.kiln.store;

import dev.kiln.core.NodeStore;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

class SqliteNodeStoreContractTest extends NodeStoreContract {
    @TempDir
    Path dataDir;
    private SqliteJobStore store;

    @Override
    protected NodeStore nodes() {
        store = SqliteJobStore.open(dataDir);
        return store.nodes();
    }

    @AfterEach
    void close() {
        if (store != null) store.close();
    }
}
