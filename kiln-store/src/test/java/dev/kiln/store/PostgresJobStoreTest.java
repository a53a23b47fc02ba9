package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.JobRecord;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import dev.kiln.core.JobTypeStore;
import dev.kiln.core.NewJob;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.StoreUnavailableException;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What only the PostgreSQL store does: connection failures at open, row locks, job types in the database. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresJobStoreTest {
    private static TestDatabase database;

    @BeforeAll
    static void createDatabase() {
        database = TestPostgres.shared().newDatabase("job_store");
    }

    @AfterAll
    static void dropDatabase() {
        database.close();
    }

    @BeforeEach
    void empty() {
        database.reset();
    }

    private static PostgresJobStore open() {
        return PostgresJobStore.open(PostgresJobStoreContractTest.postgres(database.storeUrl()));
    }

    private static JobRecord insert(PostgresJobStore store) {
        return store.insert(new NewJob(UUID.randomUUID().toString(), JobSpec.python("1"), null, null, 1,
                Instant.now())).job();
    }

    @Test
    void aRefusedLoginFailsTheOpenNamingTheStoreButNotThePassword() {
        String wrong = "not-the-password-" + UUID.randomUUID();
        assertThatThrownBy(() -> PostgresJobStore.open(PostgresJobStoreContractTest.postgres(database.storeUrl(wrong))))
                .isInstanceOf(StoreOpenException.class)
                .hasMessageContaining("cannot connect to postgresql://" + database.user() + ":****@127.0.0.1:")
                .hasMessageContaining("password authentication failed")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(wrong));
    }

    @Test
    void anUnreachableDatabaseFailsTheOpen() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        String url = "postgresql://kiln:secret@127.0.0.1:" + closedPort + "/kiln";
        assertThatThrownBy(() -> PostgresJobStore.open(PostgresJobStoreContractTest.postgres(url)))
                .isInstanceOf(StoreOpenException.class)
                .hasMessageContaining("cannot connect to postgresql://kiln:****@127.0.0.1:" + closedPort + "/kiln")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("secret"));
    }

    /** The database going away is an outage (the API's 503), not the caller's error, and ends when it is back. */
    @Test
    void aDatabaseThatStopsAnsweringIsAStoreOutageUntilItIsBack() throws Exception {
        try (PostgresJobStore store = open(); Connection admin = TestPostgres.shared().admin();
             Statement s = admin.createStatement()) {
            JobRecord job = insert(store);
            s.execute("ALTER ROLE " + database.user() + " NOLOGIN");
            try {
                s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '"
                        + database.user() + "'");
                assertThatThrownBy(() -> store.find(job.id())).isInstanceOf(StoreUnavailableException.class);
                assertThatThrownBy(() -> insert(store)).isInstanceOf(StoreUnavailableException.class);
                assertThat(store.health().ok()).isFalse();
            } finally {
                s.execute("ALTER ROLE " + database.user() + " LOGIN");
            }
            assertThat(store.find(job.id())).isPresent();
            insert(store);
            assertThat(store.health()).isEqualTo(dev.kiln.core.StoreHealth.OK);
        }
    }

    @Test
    void isUnhealthyOnceClosed() {
        PostgresJobStore store = open();
        assertThat(store.isHealthy()).isTrue();
        store.close();
        assertThat(store.isHealthy()).isFalse();
    }

    /** SKIP LOCKED: a claim passes over a row another transaction holds instead of waiting for it. */
    @Test
    void aClaimSkipsRowsLockedElsewhereWithoutWaiting() throws Exception {
        try (PostgresJobStore store = open(); Connection other = database.connect()) {
            JobRecord locked = insert(store);
            JobRecord free = insert(store);
            other.setAutoCommit(false);
            try (Statement s = other.createStatement()) {
                s.execute("SELECT id FROM jobs WHERE id = '" + locked.id() + "' FOR UPDATE");
            }
            long start = System.nanoTime();
            List<JobRecord> claimed = store.claimQueued(2, "node-a", Instant.now());
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).isLessThan(5);
            assertThat(claimed).extracting(JobRecord::id).containsExactly(free.id());
            other.rollback();
            assertThat(store.claimQueued(2, "node-a", Instant.now())).extracting(JobRecord::id)
                    .containsExactly(locked.id());
        }
    }

    @Test
    void jobTypesAreSavedReplacedAndDeletedForEveryInstance() {
        JobType t = new JobType("data", 1L << 30, 2.0, 60, 120, 100, true, Map.of("A", "1"), "bwrap", 1024,
                32L << 20, new PackageSpec("3.11", List.of("pandas>=2", "numpy"), List.of("/srv/lib")),
                new dev.kiln.core.WarmPoolSpec(3, 2, 60));
        try (PostgresJobStore a = open(); PostgresJobStore b = open()) {
            JobTypeStore types = a.jobTypes();
            types.save(t);
            types.save(new JobType("other", 1L << 20, 1, 1, 1, 8, false, Map.of(), null, 1, 1L << 20));
            types.save(t); // replace, not duplicate
            assertThat(b.jobTypes().loadAll()).hasSize(2).first().isEqualTo(t);
            assertThat(b.jobTypes().delete("other")).isTrue();
            assertThat(types.delete("other")).isFalse();
            assertThat(types.loadAll()).containsExactly(t);
        }
    }

    @Test
    void migrationIsIdempotentAcrossOpens() {
        try (PostgresJobStore a = open()) {
            insert(a);
        }
        try (PostgresJobStore b = open()) {
            assertThat(b.countByStatus().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(1);
        }
    }
}
