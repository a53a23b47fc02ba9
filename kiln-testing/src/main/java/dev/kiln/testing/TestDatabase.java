package dev.kiln.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * One database of {@link TestPostgres}, owned by a role of the same name (not a superuser, as in production), for
 * one test class. Pass {@link #storeUrl()} where Kiln takes its {@code store} setting.
 */
public final class TestDatabase implements AutoCloseable {
    private final TestPostgres server;
    private final String name;
    private final String password;

    TestDatabase(TestPostgres server, String name, String password) {
        this.server = server;
        this.name = name;
        this.password = password;
    }

    public String name() {
        return name;
    }

    public String user() {
        return name;
    }

    public String password() {
        return password;
    }

    /** {@code postgresql://USER:PASSWORD@127.0.0.1:PORT/DATABASE}. */
    public String storeUrl() {
        return storeUrl(password);
    }

    /** The same database with another password (to test a refused login). */
    public String storeUrl(String otherPassword) {
        return "postgresql://" + name + ":" + otherPassword + "@" + TestPostgres.HOST + ":" + server.port() + "/"
                + name;
    }

    public Connection connect() throws SQLException {
        return DriverManager.getConnection(server.jdbcUrl(name), name, password);
    }

    /** Drops every table, sequence and type the role owns here: an empty database again, for the next test. */
    public void reset() {
        try (Connection c = connect(); Statement s = c.createStatement()) {
            s.execute("DROP OWNED BY CURRENT_USER");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot reset test database " + name, e);
        }
    }

    /** Drops the database (closing its sessions) and its role. */
    @Override
    public void close() {
        try (Connection c = server.admin(); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
            s.execute("DROP ROLE IF EXISTS " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot drop test database " + name, e);
        }
    }
}
