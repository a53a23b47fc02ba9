package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.core.Leadership;
import dev.kiln.core.StoreSignals.Topic;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** SQLite belongs to one process: its signals stay in the process, and it always leads. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SqliteStoresTest {
    @Test
    void sqliteStoresSignalInProcessAndAlwaysLead(@TempDir Path dataDir) throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        try (Stores stores = Stores.open(StoreLocation.SQLITE, dataDir)) {
            assertThat(stores.leadership()).isSameAs(Leadership.SOLE);
            assertThat(stores.leadership().isLeader()).isTrue();
            stores.signals().subscribe((topic, id) -> seen.add(topic + " " + id));
            stores.signals().publish(Topic.QUEUED, "j1");
            await().atMost(Duration.ofSeconds(5)).until(() -> seen.equals(List.of("QUEUED j1")));
        }
    }
}
