package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.kiln.core.StoreSignals.Topic;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** LISTEN/NOTIFY between replicas, against a real PostgreSQL. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PostgresSignalsTest {
    private static final Duration WITHIN = Duration.ofSeconds(5);
    private static TestDatabase database;
    private static StoreLocation.Postgres location;
    private HikariDataSource pool;
    private final List<AutoCloseable> opened = new ArrayList<>();

    record Signal(Topic topic, String id) {
    }

    @BeforeAll
    static void createDatabase() {
        database = TestPostgres.shared().newDatabase("signals");
        location = PostgresJobStoreContractTest.postgres(database.storeUrl());
    }

    @AfterAll
    static void dropDatabase() {
        database.close();
    }

    @BeforeEach
    void openPool() {
        pool = PostgresDataSources.pool(location);
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : opened.reversed()) c.close();
        pool.close();
    }

    private PostgresSignals open(List<Signal> into) {
        PostgresSignals s = PostgresSignals.open(location, pool);
        opened.add(s);
        s.subscribe((topic, id) -> into.add(new Signal(topic, id)));
        return s;
    }

    private static Signal signal(Topic topic, String id) {
        return new Signal(topic, id);
    }

    @Test
    void twoInstancesSeeEachOthersPublishesAndTheirOwnInOrder() {
        List<Signal> seenByA = new CopyOnWriteArrayList<>();
        List<Signal> seenByB = new CopyOnWriteArrayList<>();
        PostgresSignals a = open(seenByA);
        PostgresSignals b = open(seenByB);
        List<Signal> sent = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            PostgresSignals from = i % 3 == 0 ? b : a;
            Signal s = signal(Topic.values()[i % 4], "job-" + i);
            from.publish(s.topic(), s.id());
            sent.add(s);
        }
        await().atMost(WITHIN).untilAsserted(() -> {
            assertThat(seenByA).containsExactlyElementsOf(sent);
            assertThat(seenByB).containsExactlyElementsOf(sent);
        });
    }

    @Test
    void listenersAreCalledInSubscriptionOrderAndAFailingOneStopsNoOther() {
        List<String> calls = new CopyOnWriteArrayList<>();
        PostgresSignals s = PostgresSignals.open(location, pool);
        opened.add(s);
        s.subscribe((topic, id) -> calls.add("first " + id));
        s.subscribe((topic, id) -> {
            throw new IllegalStateException("listener bug");
        });
        s.subscribe((topic, id) -> calls.add("third " + id));
        s.publish(Topic.QUEUED, "j1");
        s.publish(Topic.QUEUED, "j2");
        await().atMost(WITHIN).untilAsserted(() -> assertThat(calls)
                .containsExactly("first j1", "third j1", "first j2", "third j2"));
    }

    /** Inside a transaction PostgreSQL holds the notification until the commit and drops it on a rollback. */
    @Test
    void aPublishInATransactionIsDeliveredAtItsCommitOnly() {
        List<Signal> seen = new CopyOnWriteArrayList<>();
        open(seen);
        Jdbi jdbi = Jdbi.create(pool);
        jdbi.useTransaction(h -> {
            PostgresSignals.publish(h, Topic.FINISHED, "committed");
            h.rollback();
        });
        jdbi.useTransaction(h -> PostgresSignals.publish(h, Topic.FINISHED, "rolled-back-then-sent-again"));
        jdbi.useTransaction(h -> {
            PostgresSignals.publish(h, Topic.CANCEL, "rolled-back");
            h.rollback();
        });
        jdbi.useHandle(h -> h.createQuery(PostgresSignals.notifySql())
                .bind("payload", PostgresSignals.payload(Topic.NODES, "node-1")).mapTo(String.class).one());
        await().atMost(WITHIN).untilAsserted(() -> assertThat(seen).containsExactly(
                signal(Topic.FINISHED, "rolled-back-then-sent-again"), signal(Topic.NODES, "node-1")));
    }

    @Test
    void someoneElsesNotificationsOnTheChannelAreIgnored() throws Exception {
        List<Signal> seen = new CopyOnWriteArrayList<>();
        PostgresSignals s = open(seen);
        try (Connection c = database.connect();
             PreparedStatement notify = c.prepareStatement("SELECT pg_notify('" + PostgresSignals.CHANNEL + "', ?)")) {
            for (String payload : List.of("garbage", "QUEUED", "queued:j1", "NOPE:j1", "QUEUED:", "RESYNC:j1",
                    "CANCEL:" + "x".repeat(PostgresSignals.MAX_ID_LENGTH + 1), "NODES:a\tb", ":j1", "")) {
                notify.setString(1, payload);
                notify.execute();
            }
        }
        s.publish(Topic.QUEUED, "after-the-garbage");
        await().atMost(WITHIN).untilAsserted(() ->
                assertThat(seen).containsExactly(signal(Topic.QUEUED, "after-the-garbage")));
    }

    @Test
    void payloadsAreTopicColonIdAndParseBack() {
        assertThat(PostgresSignals.payload(Topic.QUEUED, "0b7e-1")).isEqualTo("QUEUED:0b7e-1");
        assertThat(PostgresSignals.payload(Topic.RESYNC, null)).isEqualTo("RESYNC:");
        for (Topic t : Topic.values()) {
            String id = t == Topic.RESYNC ? null : "id:with:colons-" + t;
            assertThat(PostgresSignals.Received.parse(PostgresSignals.payload(t, id)))
                    .isEqualTo(new PostgresSignals.Received(t, id));
        }
        String longest = "n".repeat(PostgresSignals.MAX_ID_LENGTH);
        assertThat(PostgresSignals.payload(Topic.NODES, longest)).hasSizeLessThan(8000);
    }

    @Test
    void aPublishWithoutAValidIdIsRefused() {
        PostgresSignals s = open(new CopyOnWriteArrayList<>());
        assertThatThrownBy(() -> s.publish(Topic.QUEUED, null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("QUEUED signal needs an id");
        assertThatThrownBy(() -> s.publish(Topic.QUEUED, "")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.publish(Topic.NODES, "x".repeat(PostgresSignals.MAX_ID_LENGTH + 1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.publish(Topic.CANCEL, "a\u0000b")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.publish(Topic.RESYNC, "x")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.publish(null, "x")).isInstanceOf(IllegalArgumentException.class);
    }

    /** The server ends the listening session: the signals reconnect, say RESYNC, and signals flow again. */
    @Test
    void aTerminatedListeningConnectionIsReplacedAndListenersAreToldToResync() throws Exception {
        List<Signal> seen = new CopyOnWriteArrayList<>();
        PostgresSignals s = open(seen);
        s.publish(Topic.QUEUED, "before");
        await().atMost(WITHIN).until(() -> seen.contains(signal(Topic.QUEUED, "before")));
        int firstPid = listenerPid();

        assertThat(terminateListeners()).isEqualTo(1);

        await().atMost(WITHIN).until(() -> seen.contains(signal(Topic.RESYNC, null)));
        s.publish(Topic.FINISHED, "after");
        await().atMost(WITHIN).untilAsserted(() -> assertThat(seen).containsExactly(
                signal(Topic.QUEUED, "before"), signal(Topic.RESYNC, null), signal(Topic.FINISHED, "after")));
        assertThat(listenerPid()).isNotEqualTo(firstPid);
    }

    @Test
    void closeStopsTheThreadAndEndsTheSessionPromptly() throws Exception {
        PostgresSignals s = open(new CopyOnWriteArrayList<>());
        listenerPid();
        long start = System.nanoTime();
        s.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        assertThat(s.listening()).isFalse();
        await().atMost(WITHIN).until(() -> listenerCount() == 0);
        s.publish(Topic.QUEUED, "after-close"); // ignored, not thrown
    }

    /** Stores wires them for PostgreSQL and closes them with the pools. */
    @Test
    void storesOpenSignalsAndLeadershipForPostgresql() throws Exception {
        List<Signal> seen = new CopyOnWriteArrayList<>();
        try (Stores stores = Stores.open(location, null)) {
            assertThat(stores.signals()).isInstanceOf(PostgresSignals.class);
            assertThat(stores.leadership()).isInstanceOf(PostgresLeadership.class);
            stores.signals().subscribe((topic, id) -> seen.add(signal(topic, id)));
            stores.signals().publish(Topic.QUEUED, "via-stores");
            await().atMost(WITHIN).until(() -> seen.contains(signal(Topic.QUEUED, "via-stores")));
            await().atMost(WITHIN).until(stores.leadership()::isLeader);
        }
        await().atMost(WITHIN).until(() -> listenerCount() == 0);
        database.reset(); // the job store's tables
    }

    private static int listenerPid() throws SQLException {
        try (Connection admin = TestPostgres.shared().admin();
             PreparedStatement ps = admin.prepareStatement("SELECT pid FROM pg_stat_activity "
                     + "WHERE datname = ? AND application_name = '" + PostgresSignals.APPLICATION_NAME + "'")) {
            ps.setString(1, database.name());
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).as("a listening session").isTrue();
                int pid = rs.getInt(1);
                assertThat(rs.next()).as("only one listening session").isFalse();
                return pid;
            }
        }
    }

    private static int listenerCount() throws SQLException {
        return count("SELECT count(*) FROM pg_stat_activity WHERE datname = ? AND application_name = '"
                + PostgresSignals.APPLICATION_NAME + "'");
    }

    private static int terminateListeners() throws SQLException {
        return count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ? "
                + "AND application_name = '" + PostgresSignals.APPLICATION_NAME + "'");
    }

    private static int count(String sql) throws SQLException {
        try (Connection admin = TestPostgres.shared().admin(); PreparedStatement ps = admin.prepareStatement(sql)) {
            ps.setString(1, database.name());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }
}
