package dev.kiln.store;

import dev.kiln.core.StoreSignals;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link StoreSignals} between the replicas sharing one PostgreSQL database: {@code LISTEN/NOTIFY} on one channel,
 * {@value #CHANNEL}, with payloads {@code TOPIC:ID} (a few dozen bytes; PostgreSQL's limit is 8000).
 *
 * <p>A publish is a {@code pg_notify} on a pooled connection, in a transaction of its own, so it is sent at once;
 * {@link #publish(Handle, Topic, String)} sends one inside the caller's transaction instead, which PostgreSQL
 * delivers at its commit and drops at its rollback. Listening takes one unpooled connection of its own
 * ({@code ApplicationName=kiln-signals}): a platform daemon thread blocks in {@link PGConnection#getNotifications(int)}
 * (no polling) and calls the listeners, in subscription order, for each notification in the order PostgreSQL
 * delivered them (commit order). When that connection breaks (the server restarted, the network dropped, the
 * session was terminated) the thread reconnects with backoff (100 ms doubling to 5 s, jittered), {@code LISTEN}s
 * again and then delivers {@link Topic#RESYNC}: whatever was sent while it was away is lost. A quiet connection is
 * checked with a {@code SELECT 1} every few seconds, so that a silently dead network is noticed too.
 *
 * <p>Someone else's notification on the channel (a payload that is not {@code TOPIC:ID}) is logged and ignored.
 */
public final class PostgresSignals implements StoreSignals {
    private static final Logger log = LoggerFactory.getLogger(PostgresSignals.class);

    /** The one channel every replica listens on. */
    public static final String CHANNEL = "kiln_signals";
    /** Longest id a signal carries (job ids are UUIDs, node ids at most 64 characters). */
    public static final int MAX_ID_LENGTH = 128;
    static final String APPLICATION_NAME = "kiln-signals";
    private static final String NOTIFY_SQL = "SELECT pg_notify('" + CHANNEL + "', :payload)";
    /** How long one wait for notifications blocks; also how often the thread looks whether it should check. */
    private static final int WAIT_MS = 1_000;
    /** A connection this long without traffic is checked with a query. */
    private static final long CHECK_AFTER_QUIET_MS = 5_000;
    /** Bounds every read but the waits, which set their own; a check that takes longer breaks the connection. */
    private static final int SOCKET_TIMEOUT_SECONDS = 10;
    private static final long CLOSE_WAIT_MS = 5_000;

    private final StoreLocation.Postgres location;
    private final PGSimpleDataSource direct;
    private final Jdbi pool;
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final CountDownLatch closing = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean closed;
    /** The listening connection while there is one: {@link #close} aborts it to end a wait at once. */
    private volatile Connection current;

    private PostgresSignals(StoreLocation.Postgres location, PGSimpleDataSource direct, DataSource pool,
                            Connection first) {
        this.location = location;
        this.direct = direct;
        this.pool = Jdbi.create(pool);
        this.current = first;
        this.thread = Thread.ofPlatform().name("kiln-signals").daemon().unstarted(() -> run(first));
    }

    /**
     * Listens before it returns, so that nothing published after this returns is missed.
     *
     * @param pool the store's pool, for publishing
     * @throws StoreOpenException when the listening connection cannot be opened
     */
    public static PostgresSignals open(StoreLocation.Postgres location, DataSource pool) {
        PGSimpleDataSource direct = PostgresDataSources.dedicated(location, APPLICATION_NAME, SOCKET_TIMEOUT_SECONDS);
        Connection first;
        try {
            first = listen(direct);
        } catch (SQLException e) {
            throw new StoreOpenException("cannot listen for signals on " + location + ": "
                    + StoreOpenException.rootMessage(e), e);
        }
        PostgresSignals signals = new PostgresSignals(location, direct, pool, first);
        signals.thread.start();
        return signals;
    }

    /**
     * Sends at once, in a transaction of its own. A database that cannot be reached loses the signal (logged, not
     * thrown): the caller's change is committed already, and a signal only says to look at it.
     *
     * @throws IllegalArgumentException when {@code id} is missing or not a valid id ({@link #payload})
     */
    @Override
    public void publish(Topic topic, String id) {
        String payload = payload(topic, id);
        if (closed) return;
        try {
            pool.useHandle(h -> send(h, payload));
        } catch (RuntimeException e) {
            if (StoreFailures.unavailability(e) == null) throw e;
            log.warn("signal {} lost: {}", payload, StoreFailures.unavailability(e));
        }
    }

    /**
     * Sends within the transaction {@code handle} is in: PostgreSQL delivers it when that commits (after the
     * change it announces is visible) and drops it if it rolls back. Outside a transaction it is sent at once.
     */
    public static void publish(Handle handle, Topic topic, String id) {
        send(handle, payload(topic, id));
    }

    /** The SQL that sends a signal, with its one named parameter {@code :payload} (see {@link #payload}). */
    public static String notifySql() {
        return NOTIFY_SQL;
    }

    /**
     * {@code TOPIC:ID}, or {@code RESYNC:} ({@link Topic#RESYNC} takes no id).
     *
     * @throws IllegalArgumentException when a topic other than RESYNC has no id, or the id is longer than
     *                                  {@value #MAX_ID_LENGTH} characters or holds a control character
     */
    public static String payload(Topic topic, String id) {
        if (topic == null) throw new IllegalArgumentException("a signal needs a topic");
        if (topic == Topic.RESYNC) {
            if (id != null) throw new IllegalArgumentException("RESYNC takes no id");
            return topic.name() + ":";
        }
        if (!validId(id)) {
            throw new IllegalArgumentException("a " + topic + " signal needs an id of 1 to " + MAX_ID_LENGTH
                    + " characters without control characters, not " + (id == null ? "null" : "'" + id + "'"));
        }
        return topic.name() + ":" + id;
    }

    private static void send(Handle handle, String payload) {
        handle.createQuery(NOTIFY_SQL).bind("payload", payload).mapTo(String.class).findOne();
    }

    private static boolean validId(String id) {
        if (id == null || id.isEmpty() || id.length() > MAX_ID_LENGTH) return false;
        return id.chars().noneMatch(Character::isISOControl);
    }

    /** A signal as received, or null for a payload that is not one of ours. */
    record Received(Topic topic, String id) {
        static Received parse(String payload) {
            if (payload == null) return null;
            int colon = payload.indexOf(':');
            if (colon < 0) return null;
            Topic topic;
            try {
                topic = Topic.valueOf(payload.substring(0, colon));
            } catch (IllegalArgumentException notATopic) {
                return null;
            }
            String id = payload.substring(colon + 1);
            if (topic == Topic.RESYNC) return id.isEmpty() ? new Received(topic, null) : null;
            return validId(id) ? new Received(topic, id) : null;
        }
    }

    @Override
    public void subscribe(Listener listener) {
        listeners.add(listener);
    }

    /** Stops the thread and closes the listening connection; returns within seconds. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        closing.countDown();
        abort(current);
        try {
            thread.join(CLOSE_WAIT_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) log.warn("the signals thread did not stop within {} ms", CLOSE_WAIT_MS);
    }

    /** Whether the thread still runs (for tests). */
    boolean listening() {
        return thread.isAlive();
    }

    private static Connection listen(PGSimpleDataSource direct) throws SQLException {
        Connection c = direct.getConnection();
        try (Statement s = c.createStatement()) {
            PostgresDataSources.serverKeepalive(c);
            s.execute("LISTEN " + CHANNEL);
            return c;
        } catch (SQLException | RuntimeException e) {
            abort(c);
            throw e;
        }
    }

    private void run(Connection first) {
        Connection c = first;
        Backoff backoff = new Backoff();
        boolean failing = false;
        long lastTraffic = System.nanoTime();
        while (!closed) {
            if (c == null) {
                try {
                    c = listen(direct);
                } catch (SQLException | RuntimeException e) {
                    if (!failing) log.warn("cannot listen for signals on {} ({}); retrying", location, e.toString());
                    failing = true;
                    pause(backoff.nextMillis());
                    continue;
                }
                current = c;
                if (closed) break; // close() may have missed it
                backoff.reset();
                failing = false;
                lastTraffic = System.nanoTime();
                log.info("listening for signals on {} again; telling listeners to resync", location);
                deliver(Topic.RESYNC, null);
            }
            try {
                PGNotification[] received = c.unwrap(PGConnection.class).getNotifications(WAIT_MS);
                if (received != null && received.length > 0) {
                    lastTraffic = System.nanoTime();
                    for (PGNotification n : received) receive(n);
                } else if (System.nanoTime() - lastTraffic > TimeUnit.MILLISECONDS.toNanos(CHECK_AFTER_QUIET_MS)) {
                    try (Statement s = c.createStatement()) {
                        s.execute("SELECT 1");
                    }
                    lastTraffic = System.nanoTime();
                }
            } catch (SQLException | RuntimeException e) {
                if (closed) break;
                log.warn("the signals connection to {} broke ({}); reconnecting", location, e.toString());
                current = null;
                abort(c);
                c = null;
                pause(backoff.nextMillis());
            }
        }
        current = null;
        abort(c);
    }

    private void receive(PGNotification n) {
        if (!CHANNEL.equals(n.getName())) return;
        Received r = Received.parse(n.getParameter());
        if (r == null) {
            log.warn("ignored a notification on {} that is not a Kiln signal (from backend {}): '{}'", CHANNEL,
                    n.getPID(), abbreviate(n.getParameter()));
            return;
        }
        deliver(r.topic(), r.id());
    }

    private void deliver(Topic topic, String id) {
        for (Listener l : listeners) {
            try {
                l.signal(topic, id);
            } catch (RuntimeException e) {
                log.error("signal listener failed on {} {}", topic, id, e);
            }
        }
    }

    private void pause(long millis) {
        try {
            closing.await(millis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closed = true;
        }
    }

    /** At most 200 characters, control characters shown as '?' (it is someone else's text, going to a log). */
    private static String abbreviate(String s) {
        if (s == null) return "";
        String shown = s.length() <= 200 ? s : s.substring(0, 200) + "...";
        return shown.codePoints().map(c -> Character.isISOControl(c) ? '?' : c)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
    }

    /** Closes at once, without waiting for the server (or for a thread blocked on the connection). */
    static void abort(Connection c) {
        if (c == null) return;
        try {
            c.abort(Runnable::run);
        } catch (SQLException | RuntimeException e) {
            log.debug("aborting a connection failed", e);
        }
    }
}
