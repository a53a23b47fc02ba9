package dev.kiln.cli.bench;

import dev.kiln.store.StoreLocation;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * The PostgreSQL database of {@code kiln bench replicas}: an empty one for each replica count. Either a server of
 * the bench's own ({@link BenchPostgres}: a new database per count, dropped after it), or the database of
 * {@code --store URL}, emptied before each count and left empty at the end.
 */
abstract class ReplicaStore implements AutoCloseable {
    /** What it is, for the report (never the password). */
    abstract String describe();

    /** The store URL for {@code replicas} replicas: an empty database. */
    abstract String fresh(int replicas) throws SQLException;

    /** After the run with {@code replicas} replicas (their processes are gone). */
    abstract void done(int replicas) throws SQLException;

    @Override
    public abstract void close();

    static ReplicaStore embedded(Path binDir, int maxReplicas) throws java.io.IOException {
        // Per replica: its pool (PostgresDataSources.POOL_SIZE, 10) plus a LISTEN and an advisory-lock connection.
        return new Embedded(BenchPostgres.start(binDir, Math.max(100, 12 * maxReplicas + 20)));
    }

    /**
     * The database of {@code url}. It is emptied before each replica count (everything the login role owns in the
     * current schema is dropped), so one that holds any table is refused unless {@code wipe}.
     */
    static ReplicaStore external(String url, boolean wipe) throws SQLException {
        StoreLocation location;
        try {
            location = StoreLocation.parse(url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--store: " + e.getMessage());
        }
        if (!(location instanceof StoreLocation.Postgres pg)) {
            throw new IllegalArgumentException("--store must be a postgresql:// URL: replicas share a PostgreSQL "
                    + "database");
        }
        External store = new External(url, pg);
        try (Connection c = store.connect()) {
            List<String> tables = store.tables(c);
            if (!tables.isEmpty() && !wipe) {
                throw new IllegalArgumentException("--store " + pg + " is not empty (tables " + String.join(", ",
                        tables.subList(0, Math.min(5, tables.size()))) + (tables.size() > 5 ? ", ..." : "")
                        + "); the bench empties its database before each replica count: give it a database of its "
                        + "own, or add --wipe-store to drop everything its user owns there");
            }
        }
        return store;
    }

    private static final class Embedded extends ReplicaStore {
        private final BenchPostgres server;

        Embedded(BenchPostgres server) {
            this.server = server;
        }

        @Override
        String describe() {
            return server.describe() + "; a new database per replica count";
        }

        @Override
        String fresh(int replicas) throws SQLException {
            return server.newDatabase(name(replicas));
        }

        @Override
        void done(int replicas) throws SQLException {
            server.dropDatabase(name(replicas));
        }

        private static String name(int replicas) {
            return "kiln_bench_r" + replicas;
        }

        @Override
        public void close() {
            server.close();
        }
    }

    private static final class External extends ReplicaStore {
        private final String url;
        private final StoreLocation.Postgres location;
        private String version = "?";

        External(String url, StoreLocation.Postgres location) {
            this.url = url;
            this.location = location;
        }

        Connection connect() throws SQLException {
            Properties p = new Properties();
            p.putAll(location.parameters());
            p.setProperty("user", location.user());
            if (location.password() != null) p.setProperty("password", location.password());
            p.putIfAbsent("connectTimeout", "10");
            Connection c = DriverManager.getConnection(location.jdbcUrl(), p);
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SHOW server_version")) {
                if (r.next()) version = r.getString(1);
            }
            return c;
        }

        List<String> tables(Connection c) throws SQLException {
            List<String> out = new ArrayList<>();
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("""
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                    ORDER BY c.relname""")) {
                while (r.next()) out.add(r.getString(1));
            }
            return out;
        }

        @Override
        String describe() {
            return "PostgreSQL " + version + " at --store " + location + "; emptied before each replica count";
        }

        @Override
        String fresh(int replicas) throws SQLException {
            wipe();
            return url;
        }

        @Override
        void done(int replicas) {
        }

        /** Drops the tables, views, sequences, functions and types the login role owns in the current schema. */
        private void wipe() throws SQLException {
            try (Connection c = connect(); Statement s = c.createStatement()) {
                List<String> drops = new ArrayList<>();
                collect(s, drops, """
                        SELECT format('DROP %s IF EXISTS %I.%I CASCADE',
                               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                              WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, n.nspname, c.relname)
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = current_schema() AND c.relowner = current_user::regrole
                          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')""");
                run(s, drops);
                collect(s, drops, """
                        SELECT format('DROP SEQUENCE IF EXISTS %I.%I CASCADE', n.nspname, c.relname)
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = current_schema() AND c.relowner = current_user::regrole
                          AND c.relkind = 'S'""");
                collect(s, drops, """
                        SELECT format('DROP ROUTINE IF EXISTS %s CASCADE', p.oid::regprocedure)
                        FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace
                          AND p.proowner = current_user::regrole""");
                collect(s, drops, """
                        SELECT format('DROP TYPE IF EXISTS %I.%I CASCADE', n.nspname, t.typname)
                        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                        WHERE n.nspname = current_schema() AND t.typowner = current_user::regrole
                          AND t.typtype IN ('e', 'd', 'r', 'c') AND t.typrelid = 0""");
                run(s, drops);
            }
        }

        private static void collect(Statement s, List<String> into, String query) throws SQLException {
            try (ResultSet r = s.executeQuery(query)) {
                while (r.next()) into.add(r.getString(1));
            }
        }

        private static void run(Statement s, List<String> drops) throws SQLException {
            for (String d : drops) s.execute(d);
            drops.clear();
        }

        @Override
        public void close() {
            try {
                wipe();
            } catch (SQLException ignored) {
                // best effort: the next run empties it anyway
            }
        }
    }
}
