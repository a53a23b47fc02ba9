package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** One housekeeping leader by advisory lock, against a real PostgreSQL. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class PostgresLeadershipTest {
    private static final Duration TAKEOVER = Duration.ofSeconds(3);
    private static TestDatabase database;
    private static StoreLocation.Postgres location;
    private final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        database = TestPostgres.shared().newDatabase("leadership");
        location = PostgresJobStoreContractTest.postgres(database.storeUrl());
    }

    @AfterAll
    static void dropDatabase() {
        database.close();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : opened.reversed()) c.close();
    }

    private PostgresLeadership open() {
        PostgresLeadership l = PostgresLeadership.open(location);
        opened.add(l);
        return l;
    }

    @Test
    void theLockKeyIsDerivedFromKilnHousekeeping() throws Exception {
        byte[] sha = MessageDigest.getInstance("SHA-256").digest("kiln-housekeeping".getBytes(StandardCharsets.UTF_8));
        assertThat(PostgresLeadership.LOCK_KEY).isEqualTo(java.nio.ByteBuffer.wrap(sha).getLong());
    }

    @Test
    void exactlyOneOfTwoLeads() throws Exception {
        PostgresLeadership a = open();
        PostgresLeadership b = open();
        assertThat(a.isLeader()).as("the first to open leads from the start").isTrue();
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5))
                .until(() -> a.isLeader() && !b.isLeader());
        assertThat(lockHolders()).hasSize(1);
    }

    @Test
    void whenTheLeaderClosesTheOtherTakesOver() {
        PostgresLeadership a = open();
        PostgresLeadership b = open();
        assertThat(a.isLeader()).isTrue();
        long start = System.nanoTime();
        a.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        assertThat(a.isLeader()).isFalse();
        await().atMost(TAKEOVER).until(b::isLeader);
        assertThat(a.isLeader()).isFalse();
    }

    /** The server ends the leader's session: it stops claiming at once, the other takes over, it reconnects. */
    @Test
    void whenTheLeadersSessionIsTerminatedTheOtherTakesOverAndNeverBothLead() throws Exception {
        PostgresLeadership a = open();
        PostgresLeadership b = open();
        assertThat(a.isLeader()).isTrue();
        int pid = lockHolders().getFirst();
        AtomicBoolean bothLed = new AtomicBoolean();
        Thread.ofPlatform().daemon().start(() -> {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (System.nanoTime() < end) {
                if (a.isLeader() && b.isLeader()) bothLed.set(true);
                java.util.concurrent.locks.LockSupport.parkNanos(200_000);
            }
        });

        terminate(pid);

        await().atMost(TAKEOVER).until(b::isLeader);
        assertThat(a.isLeader()).isFalse();
        await().atMost(Duration.ofSeconds(5)).until(() -> sessions() == 2); // a is back, waiting
        await().during(Duration.ofMillis(1000)).atMost(Duration.ofSeconds(3))
                .until(() -> b.isLeader() && !a.isLeader());
        assertThat(bothLed).as("a and b led at the same moment").isFalse();
        assertThat(lockHolders()).doesNotContain(pid).hasSize(1);
    }

    /** Nobody else around, and it cannot reconnect: it must stop claiming, and lead again once it can. */
    @Test
    void aLeaderWhoseSessionWasTerminatedDoesNotKeepClaiming() throws Exception {
        PostgresLeadership a = open();
        assertThat(a.isLeader()).isTrue();
        try (Connection admin = TestPostgres.shared().admin(); Statement s = admin.createStatement()) {
            s.execute("ALTER ROLE " + database.user() + " NOLOGIN");
            try {
                terminate(lockHolders().getFirst());
                await().atMost(TAKEOVER).until(() -> !a.isLeader());
                await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> !a.isLeader());
            } finally {
                s.execute("ALTER ROLE " + database.user() + " LOGIN");
            }
        }
        await().atMost(Duration.ofSeconds(10)).until(a::isLeader); // within one backoff step (at most 5 s)
    }

    /** Another replica's session holding the lock is aborted (its socket closed, as a crash does). */
    @Test
    void whenTheHoldersConnectionIsAbortedTheWaitingOneTakesOver() throws Exception {
        Connection other = database.connect();
        try (PreparedStatement ps = other.prepareStatement("SELECT pg_advisory_lock(?)")) {
            ps.setLong(1, PostgresLeadership.LOCK_KEY);
            ps.execute();
        }
        PostgresLeadership a = open();
        await().during(Duration.ofMillis(1000)).atMost(Duration.ofSeconds(3)).until(() -> !a.isLeader());
        other.abort(Runnable::run);
        await().atMost(TAKEOVER).until(a::isLeader);
    }

    /** A leader in another JVM is killed with SIGKILL: the kernel closes its socket, PostgreSQL frees the lock. */
    @Test
    void whenTheLeadersProcessIsKilledTheOtherTakesOverWithinSeconds() throws Exception {
        String java = ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString());
        ProcessBuilder pb = new ProcessBuilder(java, "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), LeadershipChild.class.getName())
                .redirectErrorStream(true);
        pb.environment().put("KILN_TEST_STORE", database.storeUrl());
        Process child = pb.start();
        try {
            CompletableFuture<Boolean> leading = new CompletableFuture<>();
            StringBuilder output = new StringBuilder();
            Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        synchronized (output) {
                            output.append(line).append('\n');
                        }
                        if (line.equals(LeadershipChild.LEADING)) leading.complete(true);
                    }
                } catch (java.io.IOException ignored) {
                    // the child was killed
                }
                leading.complete(false);
            });
            assertThat(leading.get(60, TimeUnit.SECONDS)).as("the child leads; its output:\n%s", output).isTrue();
            PostgresLeadership a = open();
            assertThat(a.isLeader()).isFalse();

            child.destroyForcibly(); // SIGKILL
            assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();

            await().atMost(TAKEOVER).until(a::isLeader);
        } finally {
            child.destroyForcibly();
        }
    }

    /** Backend pids holding the housekeeping lock in this database. */
    private static List<Integer> lockHolders() throws SQLException {
        long key = PostgresLeadership.LOCK_KEY;
        try (Connection admin = TestPostgres.shared().admin();
             PreparedStatement ps = admin.prepareStatement("SELECT l.pid FROM pg_locks l JOIN pg_database d "
                     + "ON d.oid = l.database WHERE d.datname = ? AND l.locktype = 'advisory' AND l.granted "
                     + "AND l.classid::bigint = ? AND l.objid::bigint = ? AND l.objsubid = 1")) {
            ps.setString(1, database.name());
            ps.setLong(2, key >>> 32);
            ps.setLong(3, key & 0xffffffffL);
            List<Integer> pids = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) pids.add(rs.getInt(1));
            }
            return pids;
        }
    }

    private static int sessions() throws SQLException {
        try (Connection admin = TestPostgres.shared().admin();
             PreparedStatement ps = admin.prepareStatement("SELECT count(*) FROM pg_stat_activity "
                     + "WHERE datname = ? AND application_name = '" + PostgresLeadership.APPLICATION_NAME + "'")) {
            ps.setString(1, database.name());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    private static void terminate(int pid) throws SQLException {
        try (Connection admin = TestPostgres.shared().admin();
             PreparedStatement ps = admin.prepareStatement("SELECT pg_terminate_backend(?)")) {
            ps.setInt(1, pid);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                assertThat(rs.getBoolean(1)).as("terminated backend %s", pid).isTrue();
            }
        }
    }
}
