package dev.kiln.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Path;
import javax.sql.DataSource;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * Connections to the SQLite file. SQLite allows one writer at a time, so writes go through a pool of exactly one
 * connection, taken by one thread only, the {@link GroupCommitter}'s: writers queue there (and share commits)
 * instead of racing for the database lock, which is what makes {@code SQLITE_BUSY} impossible between threads of
 * this process. Readers get their own small pool; in WAL mode
 * they never block the writer nor each other. {@code busy_timeout} still covers other processes on the same file
 * (a second store instance, a backup, the sqlite3 shell).
 */
final class SqliteDataSources {
    static final int BUSY_TIMEOUT_MS = 30_000;
    static final int READER_POOL_SIZE = 4;
    // Only the committer takes the writer connection, a batch at a time; a wait here means a connection being
    // re-opened, so this is generous.
    private static final long WRITER_WAIT_MS = 60_000;
    private static final long READER_WAIT_MS = 30_000;

    private SqliteDataSources() {
    }

    /** Unpooled, with the writer's pragmas: for schema migration before the pools exist. */
    static DataSource direct(Path dbFile) {
        return dataSource(dbFile, writerConfig());
    }

    static HikariDataSource writerPool(Path dbFile) {
        HikariConfig hc = new HikariConfig();
        hc.setPoolName("kiln-sqlite-writer");
        hc.setDataSource(dataSource(dbFile, writerConfig()));
        hc.setMaximumPoolSize(1);
        hc.setMinimumIdle(1);
        hc.setConnectionTimeout(WRITER_WAIT_MS);
        return new HikariDataSource(hc);
    }

    static HikariDataSource readerPool(Path dbFile) {
        SQLiteConfig config = commonConfig();
        HikariConfig hc = new HikariConfig();
        hc.setPoolName("kiln-sqlite-reader");
        hc.setDataSource(dataSource(dbFile, config));
        // A reader that tried to write would take the write lock behind the writer pool's back.
        hc.setConnectionInitSql("PRAGMA query_only = true");
        hc.setMaximumPoolSize(READER_POOL_SIZE);
        hc.setMinimumIdle(1);
        hc.setConnectionTimeout(READER_WAIT_MS);
        return new HikariDataSource(hc);
    }

    private static SQLiteConfig writerConfig() {
        SQLiteConfig config = commonConfig();
        // WAL: readers proceed during a write; the setting is persistent in the file.
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        // FULL: every commit fsyncs the WAL, so an accepted job survives power loss (NORMAL would only survive
        // a process crash).
        config.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
        // IMMEDIATE: a transaction takes the write lock up front, so it never has to upgrade a read snapshot
        // (an upgrade that fails returns SQLITE_BUSY at once, without waiting out busy_timeout).
        config.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        return config;
    }

    private static SQLiteConfig commonConfig() {
        SQLiteConfig config = new SQLiteConfig();
        config.setBusyTimeout(BUSY_TIMEOUT_MS);
        config.enforceForeignKeys(true);
        return config;
    }

    private static SQLiteDataSource dataSource(Path dbFile, SQLiteConfig config) {
        SQLiteDataSource ds = new SQLiteDataSource(config);
        ds.setUrl("jdbc:sqlite:" + dbFile.toAbsolutePath());
        return ds;
    }
}
