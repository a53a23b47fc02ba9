package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.JobType;
import dev.kiln.core.JobTypeStore;
import dev.kiln.core.PackageSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteJobTypeStoreTest {
    @TempDir
    Path dir;

    @Test
    void savesReplacesDeletesAndSurvivesReopen() {
        JobType t = new JobType("data", 1L << 30, 2.0, 60, 120, 100, true, Map.of("A", "1"), "bwrap", 1024,
                32L << 20, new PackageSpec("3.11", List.of("pandas>=2", "numpy"), List.of("/srv/lib")),
                new dev.kiln.core.WarmPoolSpec(3, 2, 60));
        try (SqliteJobStore store = SqliteJobStore.open(dir)) {
            JobTypeStore types = store.jobTypes();
            types.save(t);
            types.save(new JobType("other", 1L << 20, 1, 1, 1, 8, false, Map.of(), null, 1, 1L << 20));
            types.save(t); // replace, not duplicate
            assertThat(types.loadAll()).hasSize(2);
        }
        try (SqliteJobStore store = SqliteJobStore.open(dir)) {
            JobTypeStore types = store.jobTypes();
            assertThat(types.loadAll()).first().isEqualTo(t);
            assertThat(types.delete("other")).isTrue();
            assertThat(types.delete("other")).isFalse();
            assertThat(types.loadAll()).containsExactly(t);
        }
    }
}
