package dev.kiln.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The connection pool to a PostgreSQL store. The password goes to the driver as a property, never into a URL, so
 * no pool or driver message can show it. Creating the pool opens a first connection, so an unreachable database or
 * a refused login fails here, at start-up.
 */
final class PostgresDataSources {
    static final int POOL_SIZE = 10;
    private static final int CONNECT_TIMEOUT_SECONDS = 10;
    // Past this a request fails as a store outage (503, retried) rather than hanging while the database is away.
    private static final long POOL_WAIT_MS = 5_000;
    static final int SERVER_KEEPALIVE_IDLE_SECONDS = 5;
    static final int SERVER_KEEPALIVE_INTERVAL_SECONDS = 2;
    static final int SERVER_KEEPALIVE_COUNT = 3;

    private PostgresDataSources() {
    }

    static HikariDataSource pool(StoreLocation.Postgres location) {
        PGSimpleDataSource ds = driver(location);
        ds.setApplicationName("kiln");
        applyParameters(ds, location);
        HikariConfig hc = new HikariConfig();
        hc.setPoolName("kiln-postgres");
        hc.setDataSource(ds);
        hc.setMaximumPoolSize(POOL_SIZE);
        hc.setMinimumIdle(1);
        hc.setConnectionTimeout(POOL_WAIT_MS);
        try {
            return new HikariDataSource(hc);
        } catch (RuntimeException e) {
            throw new StoreOpenException("cannot connect to " + location + ": "
                    + StoreOpenException.rootMessage(e), e);
        }
    }

    /**
     * Unpooled connections of their own, for what is tied to one session: {@code LISTEN} ({@link PostgresSignals}),
     * an advisory lock ({@link PostgresLeadership}). TCP keepalive is on and every read is bounded by
     * {@code socketTimeout}, unless the store's parameters say otherwise; the application name is always
     * {@code applicationName}, so that an operator (or a test) finds the session in {@code pg_stat_activity}.
     */
    static PGSimpleDataSource dedicated(StoreLocation.Postgres location, String applicationName,
                                        int socketTimeoutSeconds) {
        PGSimpleDataSource ds = driver(location);
        ds.setTcpKeepAlive(true);
        ds.setSocketTimeout(socketTimeoutSeconds);
        applyParameters(ds, location);
        ds.setApplicationName(applicationName);
        return ds;
    }

    /**
     * Asks the server to probe this session's connection too (it sends no keepalive of its own for two hours by
     * default), so that a session whose client vanished without closing it (a host lost, a network cut) ends within
     * about {@value #SERVER_KEEPALIVE_IDLE_SECONDS} + {@value #SERVER_KEEPALIVE_COUNT} x
     * {@value #SERVER_KEEPALIVE_INTERVAL_SECONDS} seconds, and with it what the session holds (an advisory lock, a
     * place in the notification queue). The settings are per session, for any user; a platform without them keeps
     * its defaults.
     */
    static void serverKeepalive(Connection c) {
        try (Statement s = c.createStatement()) {
            s.execute("SET tcp_keepalives_idle = " + SERVER_KEEPALIVE_IDLE_SECONDS);
            s.execute("SET tcp_keepalives_interval = " + SERVER_KEEPALIVE_INTERVAL_SECONDS);
            s.execute("SET tcp_keepalives_count = " + SERVER_KEEPALIVE_COUNT);
        } catch (SQLException e) {
            org.slf4j.LoggerFactory.getLogger(PostgresDataSources.class)
                    .debug("the server keeps its own TCP keepalive settings: {}", e.getMessage());
        }
    }

    private static PGSimpleDataSource driver(StoreLocation.Postgres location) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setServerNames(new String[]{location.host()});
        ds.setPortNumbers(new int[]{location.port()});
        ds.setDatabaseName(location.database());
        ds.setUser(location.user());
        if (location.password() != null) ds.setPassword(location.password());
        ds.setConnectTimeout(CONNECT_TIMEOUT_SECONDS);
        return ds;
    }

    private static void applyParameters(PGSimpleDataSource ds, StoreLocation.Postgres location) {
        try {
            for (var p : location.parameters().entrySet()) ds.setProperty(p.getKey(), p.getValue());
        } catch (SQLException e) {
            throw new IllegalArgumentException("store parameter: " + e.getMessage(), e);
        }
    }
}
