package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStore;
import dev.kiln.core.NewJob;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class SqliteJobStoreContractTest extends JobStoreContract implements SharedQueueContract {
    @TempDir
    Path dataDir;

    @Override
    protected JobStore createStore() {
        return SqliteJobStore.open(dataDir);
    }

    @Test
    void writerConnectionsUseDurablePragmas() {
        Path db = dataDir.resolve(SqliteJobStore.DB_FILE_NAME);
        assertThat(db).isRegularFile();
        try (HikariDataSource writer = SqliteDataSources.writerPool(db)) {
            Jdbi.create(writer).useHandle(h -> {
                assertThat(h.createQuery("PRAGMA journal_mode").mapTo(String.class).one()).isEqualToIgnoringCase("wal");
                assertThat(h.createQuery("PRAGMA synchronous").mapTo(Integer.class).one()).isEqualTo(2); // FULL
                assertThat(h.createQuery("PRAGMA foreign_keys").mapTo(Integer.class).one()).isEqualTo(1);
                assertThat(h.createQuery("PRAGMA busy_timeout").mapTo(Integer.class).one())
                        .isEqualTo(SqliteDataSources.BUSY_TIMEOUT_MS);
            });
        }
    }

    @Test
    void readerConnectionsCannotWrite() {
        try (HikariDataSource reader = SqliteDataSources.readerPool(dataDir.resolve(SqliteJobStore.DB_FILE_NAME))) {
            Jdbi jdbi = Jdbi.create(reader);
            int queryOnly = jdbi.withHandle(h -> h.createQuery("PRAGMA query_only").mapTo(Integer.class).one());
            assertThat(queryOnly).isEqualTo(1);
            assertThatThrownBy(() -> jdbi.useHandle(h -> h.execute("DELETE FROM jobs")))
                    .hasMessageContaining("readonly");
        }
    }

    @Test
    void isUnhealthyOnceClosed() {
        store.close();
        assertThat(store.isHealthy()).isFalse();
    }

    @Test
    void migrationIsIdempotentAcrossOpens() {
        store.close();
        store = openStore();
        store.close();
        store = openStore();
        assertThat(store.isHealthy()).isTrue();
    }

    /** An insert that returned is on disk even if the process dies right after, without closing anything. */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void acceptedJobSurvivesKill9() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), InsertThenHang.class.getName(), dataDir.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        String line;
        try (var out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            do {
                line = out.readLine(); // skips the child's log lines
            } while (line != null && !line.startsWith("inserted "));
            child.destroyForcibly(); // SIGKILL: no shutdown hooks, no close
            child.waitFor();
        }
        assertThat(line).as("the child's report").startsWith("inserted ");
        String id = line.substring("inserted ".length());

        assertThat(store.find(id)).map(JobRecord::id).contains(id);
    }

    /** Child process for {@link #acceptedJobSurvivesKill9}. */
    public static final class InsertThenHang {
        public static void main(String[] args) throws Exception {
            JobStore store = SqliteJobStore.open(Path.of(args[0]));
            String id = UUID.randomUUID().toString();
            store.insert(new NewJob(id, JobSpec.python("print('survive')"), "h", null, 1, Instant.now()));
            System.out.println("inserted " + id);
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    /**
     * The same with group commit: many threads insert, each printing its id once {@code insert} returned; the
     * child is killed mid-stream, with writes still queued and a batch possibly half written. Every printed id
     * must be on disk.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void everyReturnedInsertFromManyThreadsSurvivesKill9() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), InsertFromManyThreads.class.getName(),
                dataDir.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        List<String> returned = new java.util.ArrayList<>();
        try (var out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while (returned.size() < 500 && (line = out.readLine()) != null) {
                if (line.startsWith("inserted ")) returned.add(line.substring("inserted ".length()));
            }
            child.destroyForcibly(); // SIGKILL while the other threads are still inserting
            child.waitFor();
        }
        assertThat(returned).as("the child's reports").hasSize(500);

        try (JobStore reopened = openStore()) {
            for (String id : returned) assertThat(reopened.find(id)).as(id).map(JobRecord::id).contains(id);
        }
    }

    /** Child process for {@link #everyReturnedInsertFromManyThreadsSurvivesKill9}. */
    public static final class InsertFromManyThreads {
        public static void main(String[] args) throws Exception {
            JobStore store = SqliteJobStore.open(Path.of(args[0]));
            for (int t = 0; t < 32; t++) {
                Thread.ofVirtual().start(() -> {
                    while (true) {
                        String id = UUID.randomUUID().toString();
                        store.insert(new NewJob(id, JobSpec.python("print('survive')"), "h", null, 1, Instant.now()));
                        System.out.println("inserted " + id); // println is atomic per line
                    }
                });
            }
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    @Test
    void keepsNoStrayFilesBesidesTheDatabase() throws Exception {
        try (var files = Files.list(dataDir)) {
            assertThat(files.map(p -> p.getFileName().toString()).toList())
                    .allMatch(n -> List.of("kiln.db", "kiln.db-wal", "kiln.db-shm").contains(n));
        }
    }
}
