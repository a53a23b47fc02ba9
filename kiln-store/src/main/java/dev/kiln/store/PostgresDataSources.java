package dev.kiln.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.SQLException;
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

    private PostgresDataSources() {
    }

    static HikariDataSource pool(StoreLocation.Postgres location) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setServerNames(new String[]{location.host()});
        ds.setPortNumbers(new int[]{location.port()});
        ds.setDatabaseName(location.database());
        ds.setUser(location.user());
        if (location.password() != null) ds.setPassword(location.password());
        ds.setApplicationName("kiln");
        ds.setConnectTimeout(CONNECT_TIMEOUT_SECONDS);
        try {
            for (var p : location.parameters().entrySet()) ds.setProperty(p.getKey(), p.getValue());
        } catch (SQLException e) {
            throw new IllegalArgumentException("store parameter: " + e.getMessage(), e);
        }
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
}
