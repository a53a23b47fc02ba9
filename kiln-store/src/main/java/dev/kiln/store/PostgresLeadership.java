package dev.kiln.store;

import dev.kiln.core.Leadership;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Leadership} by a PostgreSQL session-level advisory lock ({@link #LOCK_KEY}) held on an unpooled connection
 * of its own ({@code ApplicationName=kiln-leadership}): the replica whose session holds it leads, and PostgreSQL
 * gives it to no one else while that session lives. No election of our own: the database already decides.
 *
 * <p>A platform daemon thread runs a round about every {@value #ROUND_MS} ms. Not leading, it tries
 * {@code pg_try_advisory_lock} (which never waits). Leading, it checks the connection with a {@code SELECT 1}
 * bounded by a {@value #CHECK_TIMEOUT_MS} ms network timeout and, if that fails, stops leading at once, drops the
 * connection and reconnects (with backoff, 100 ms doubling to 5 s); it then leaves the lock to the other replicas
 * for {@value #STEP_ASIDE_MS} ms (a few of their rounds), since a healthy replica is the better leader than one
 * whose connection just broke. Between rounds the thread waits in
 * {@link PGConnection#getNotifications(int)} on that connection, which returns the moment the server ends the
 * session ({@code pg_terminate_backend}, a shutdown): such a leader steps down within milliseconds, before another
 * replica's next round can take the lock.
 *
 * <p>A leader that dies loses the lock when its session ends: at once when its process is killed (the kernel
 * closes the socket, the server sees it and releases the lock), or when the server's keepalive gives up on a host
 * or network that vanished (about 11 s, see {@link PostgresDataSources#serverKeepalive}). A leader cut off from the
 * database steps down within {@value #ROUND_MS} + {@value #CHECK_TIMEOUT_MS} ms, before the server can hand the
 * lock on. The lock is per database and needs a real session: not through a transaction-pooling proxy
 * (PgBouncer's transaction mode).
 *
 * <p>Leadership only keeps replicas from doing the same housekeeping twice. What they write stays fenced by the
 * rows' versions, so the short overlap possible at a hand-over (the old leader not yet aware its session is gone)
 * costs duplicate work, never a wrong result.
 */
public final class PostgresLeadership implements Leadership {
    private static final Logger log = LoggerFactory.getLogger(PostgresLeadership.class);

    /**
     * The advisory lock: the first 8 bytes (big-endian) of SHA-256("kiln-housekeeping"). In {@code pg_locks} it is
     * {@code locktype = 'advisory'}, {@code classid = 27874413}, {@code objid = 521705271}, {@code objsubid = 1}.
     */
    public static final long LOCK_KEY = 119719692751902519L;
    static final String APPLICATION_NAME = "kiln-leadership";
    static final long ROUND_MS = 500;
    static final int CHECK_TIMEOUT_MS = 2_000;
    /** How long a leader whose connection broke leaves the lock to the others: a few of their rounds. */
    static final long STEP_ASIDE_MS = 3 * ROUND_MS;
    private static final int SOCKET_TIMEOUT_SECONDS = 10;
    private static final long CLOSE_WAIT_MS = 5_000;

    private final StoreLocation.Postgres location;
    private final PGSimpleDataSource direct;
    private final CountDownLatch closing = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean leader;
    private volatile boolean closed;
    /** The connection while there is one: {@link #close} aborts it, which ends the thread's wait at once. */
    private volatile Connection current;
    /** Only the thread touches these. */
    private final Backoff backoff = new Backoff();
    private boolean failing;
    /** After losing the lock this way, the others get the first chance at it, until {@link #notBefore} (nanoTime). */
    private boolean steppingAside;
    private long notBefore;

    private PostgresLeadership(StoreLocation.Postgres location, PGSimpleDataSource direct) {
        this.location = location;
        this.direct = direct;
        this.thread = Thread.ofPlatform().name("kiln-leadership").daemon().unstarted(this::run);
    }

    /**
     * Connects and makes the first attempt before it returns: the first replica to start leads from the start.
     *
     * @throws StoreOpenException when the connection cannot be opened
     */
    public static PostgresLeadership open(StoreLocation.Postgres location) {
        PostgresLeadership l = new PostgresLeadership(location,
                PostgresDataSources.dedicated(location, APPLICATION_NAME, SOCKET_TIMEOUT_SECONDS));
        try {
            l.current = l.connect();
            l.round(l.current);
        } catch (SQLException e) {
            abort(l.current);
            throw new StoreOpenException("cannot open the leadership connection to " + location + ": "
                    + StoreOpenException.rootMessage(e), e);
        }
        l.thread.start();
        return l;
    }

    /** A volatile read. */
    @Override
    public boolean isLeader() {
        return leader;
    }

    /**
     * Stops leading (first), then closes the connection, which ends its session and so releases the lock (the
     * server sees the socket close at once), and stops the thread; within seconds.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        boolean was = leader;
        leader = false;
        closing.countDown();
        abort(current); // also ends the thread's wait
        try {
            thread.join(CLOSE_WAIT_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) log.warn("the leadership thread did not stop within {} ms", CLOSE_WAIT_MS);
        if (was) log.info("stopped leading the housekeeping (closed)");
    }

    private void run() {
        while (!closed) {
            Connection c = current;
            try {
                if (c == null) {
                    c = connect();
                    current = c;
                    if (closed) break; // close() may have missed it
                }
                round(c);
                backoff.reset();
                if (failing) log.info("the leadership connection to {} works again", location);
                failing = false;
                // Returns early when the server ends the session; aborted by close().
                c.unwrap(PGConnection.class).getNotifications((int) ROUND_MS);
            } catch (SQLException | RuntimeException e) {
                if (closed) break;
                stepDown(e);
                current = null;
                abort(c);
                pause(backoff.nextMillis());
            }
        }
        leader = false;
        Connection c = current;
        current = null;
        abort(c);
    }

    /** Not leading: try to take the lock. Leading: check that the session (and so the lock) still lives. */
    private void round(Connection c) throws SQLException {
        if (closed) return;
        if (!leader) {
            if (steppingAside && System.nanoTime() - notBefore < 0) return;
            steppingAside = false;
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_try_advisory_lock(?)")) {
                ps.setLong(1, LOCK_KEY);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next() && rs.getBoolean(1) && !closed) {
                        leader = true;
                        log.info("this replica leads the housekeeping now (advisory lock {} on {})", LOCK_KEY,
                                location);
                    }
                }
            }
        } else {
            try (Statement s = c.createStatement()) {
                s.execute("SELECT 1");
            }
        }
    }

    private void stepDown(Exception cause) {
        if (leader) {
            leader = false;
            steppingAside = true;
            notBefore = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STEP_ASIDE_MS);
            log.warn("stopped leading the housekeeping: the leadership connection to {} broke ({})", location,
                    cause.toString());
        } else if (!failing) {
            log.warn("the leadership connection to {} failed ({}); reconnecting", location, cause.toString());
        }
        failing = true;
    }

    private Connection connect() throws SQLException {
        Connection c = direct.getConnection();
        try {
            c.setNetworkTimeout(Runnable::run, CHECK_TIMEOUT_MS);
            PostgresDataSources.serverKeepalive(c);
            return c;
        } catch (SQLException | RuntimeException e) {
            abort(c);
            throw e;
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

    private static void abort(Connection c) {
        PostgresSignals.abort(c);
    }
}
