package dev.kiln.store;

import dev.kiln.core.LiveOutputStore;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

class SqliteLiveOutputStoreTest extends LiveOutputStoreContract {
    @TempDir
    Path dataDir;
    private SqliteJobStore store;

    @Override
    protected LiveOutputStore liveOutput() {
        store = SqliteJobStore.open(dataDir);
        return store.liveOutput();
    }

    @AfterEach
    void close() {
        if (store != null) store.close();
    }
}
