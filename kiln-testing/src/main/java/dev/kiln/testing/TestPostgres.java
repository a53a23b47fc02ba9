package dev.kiln.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real PostgreSQL server for tests, started on first use and shared by the test classes of one JVM, each of which
 * takes a {@link TestDatabase} of its own. Nothing needs to be installed or running: the binaries are zonky's (see
 * {@link PostgresBinaries}), the cluster lives in a fresh directory under {@code java.io.tmpdir}, and the server
 * listens on a free port of 127.0.0.1 with password (SCRAM) logins only.
 *
 * <p>PostgreSQL refuses to run as root; {@link ClusterProcesses} runs it as an unprivileged user then, and stops it
 * even when this JVM is killed. Logins need the password ({@code --auth=scram-sha-256}), so a wrong one is refused as
 * a production server would.
 */
public final class TestPostgres implements AutoCloseable {
    public static final String HOST = "127.0.0.1";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final String SUPERUSER = "kiln_admin";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static TestPostgres shared;

    private final Path runDir;
    private final int port;
    private final String adminPassword;
    private final Process postgres;
    private final Process watchdog;
    private final AtomicInteger databases = new AtomicInteger();

    private TestPostgres(Path runDir, int port, String adminPassword, Process postgres, Process watchdog) {
        this.runDir = runDir;
        this.port = port;
        this.adminPassword = adminPassword;
        this.postgres = postgres;
        this.watchdog = watchdog;
    }

    /** The server of this JVM, started by the first caller; it stops when the JVM exits. */
    public static synchronized TestPostgres shared() {
        if (shared == null) {
            try {
                shared = start();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start the test PostgreSQL server", e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(shared::close, "test-postgres-stop"));
        }
        return shared;
    }

    /** A new empty database, owned by a new role of the same name that logs in with a password. */
    public TestDatabase newDatabase(String hint) {
        String name = ("t" + databases.incrementAndGet() + "_" + hint.toLowerCase(Locale.ROOT))
                .replaceAll("[^a-z0-9_]", "_");
        name = name.substring(0, Math.min(name.length(), 48));
        String password = randomHex();
        try (Connection c = admin(); Statement s = c.createStatement()) {
            s.execute("CREATE ROLE " + name + " LOGIN PASSWORD '" + password + "'");
            s.execute("CREATE DATABASE " + name + " OWNER " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create test database " + name, e);
        }
        return new TestDatabase(this, name, password);
    }

    public int port() {
        return port;
    }

    /** A connection as the cluster's superuser (to the {@code postgres} database). */
    public Connection admin() throws SQLException {
        return DriverManager.getConnection(jdbcUrl("postgres"), SUPERUSER, adminPassword);
    }

    /** {@code jdbc:postgresql://127.0.0.1:PORT/DATABASE}; credentials go separately. */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://" + HOST + ":" + port + "/" + database + "?connectTimeout=5";
    }

    /** Stops the server and removes its files; waits for both, boundedly. */
    @Override
    public void close() {
        try {
            watchdog.getOutputStream().close();
            if (!watchdog.waitFor(30, TimeUnit.SECONDS)) watchdog.destroyForcibly();
            postgres.waitFor(5, TimeUnit.SECONDS);
        } catch (IOException e) {
            postgres.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static TestPostgres start() throws IOException {
        Path bin = PostgresBinaries.unpacked().resolve("bin");
        Path runDir = Files.createTempDirectory(ClusterProcesses.baseDir(), "cluster-");
        Path data = runDir.resolve("data");
        Path log = runDir.resolve("postgres.log");
        String password = randomHex();
        Path pwfile = Files.writeString(runDir.resolve("pwfile"), password + "\n");
        ClusterProcesses.handOver(runDir, pwfile);
        ClusterProcesses.run(log, START_TIMEOUT, bin.resolve("initdb").toString(), "-D", data.toString(), "-U", SUPERUSER,
                "--pwfile=" + pwfile, "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync");
        Files.delete(pwfile);
        // Tests need no durability; unix sockets are off so nothing is written outside the cluster directory.
        Files.writeString(data.resolve("postgresql.conf"), """
                listen_addresses = '%s'
                unix_socket_directories = ''
                max_connections = 200
                shared_buffers = 32MB
                fsync = off
                synchronous_commit = off
                full_page_writes = off
                timezone = 'UTC'
                """.formatted(HOST), java.nio.file.StandardOpenOption.APPEND);
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int port = freePort();
            Process postgres = ClusterProcesses.command(log, bin.resolve("postgres").toString(), "-D",
                    data.toString(), "-p", Integer.toString(port)).start();
            Process watchdog = ClusterProcesses.watchdog(postgres, runDir);
            TestPostgres server = new TestPostgres(runDir, port, password, postgres, watchdog);
            try {
                server.awaitReady(log);
                return server;
            } catch (IOException e) {
                last = e; // most likely the port was taken meanwhile: try another
                if (postgres.isAlive()) {
                    server.close();
                    throw e;
                }
                watchdog.destroy();
            }
        }
        ClusterProcesses.deleteTree(runDir);
        throw last;
    }

    private void awaitReady(Path log) throws IOException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        SQLException lastFailure = null;
        while (System.nanoTime() < deadline) {
            if (!postgres.isAlive()) throw new IOException("postgres exited at start:\n" + ClusterProcesses.tail(log));
            try (Connection c = admin()) {
                return;
            } catch (SQLException e) {
                lastFailure = e; // still starting up
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for postgres", e);
            }
        }
        throw new IOException("postgres not ready after " + START_TIMEOUT + ":\n" + ClusterProcesses.tail(log),
                lastFailure);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        }
    }

    static String randomHex() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
