package dev.kiln.store;

import dev.kiln.core.NodeTokenStore;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

class SqliteNodeTokenStoreContractTest extends NodeTokenStoreContract {
    @TempDir
    Path dataDir;
    private SqliteJobStore store;

    @Override
    protected NodeTokenStore tokens() {
        store = SqliteJobStore.open(dataDir);
        return store.nodeTokens();
    }

    @AfterEach
    void close() {
        if (store != null) store.close();
    }
}
