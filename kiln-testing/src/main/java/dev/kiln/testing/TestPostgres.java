package dev.kiln.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real PostgreSQL server for tests, started on first use and shared by the test classes of one JVM, each of which
 * takes a {@link TestDatabase} of its own. Nothing needs to be installed or running: the binaries are zonky's (see
 * {@link PostgresBinaries}), the cluster lives in a fresh directory under {@code java.io.tmpdir}, and the server
 * listens on a free port of 127.0.0.1 with password (SCRAM) logins only.
 *
 * <p>PostgreSQL refuses to run as root. As root (CI), every PostgreSQL program runs through {@code setpriv} as uid
 * and gid 65534 ({@code nobody}, which initdb needs to find in the passwd file), owning the cluster directory; the
 * binaries are world-readable. That needs no user namespaces, unlike zonky's own launcher ({@code unshare -U}),
 * which containers often forbid. Without root the programs run as the current user.
 *
 * <p>Stopping: a watchdog shell waits on a pipe from this JVM; when the JVM closes it ({@link #close}, at exit) or
 * dies, even by SIGKILL, the watchdog stops the server (fast shutdown, then harder) and deletes the cluster.
 */
public final class TestPostgres implements AutoCloseable {
    public static final String HOST = "127.0.0.1";
    static final int UNPRIVILEGED_ID = 65534;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final String SUPERUSER = "kiln_admin";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String WATCHDOG = """
            read _ignored
            kill -INT "$1" 2>/dev/null
            n=0
            while kill -0 "$1" 2>/dev/null && [ $n -lt 200 ]; do
              n=$((n + 1))
              [ $n -eq 100 ] && kill -QUIT "$1" 2>/dev/null
              [ $n -eq 150 ] && kill -KILL "$1" 2>/dev/null
              sleep 0.1
            done
            rm -rf "$2"
            """;
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
        boolean root = uid() == 0;
        Path runDir = Files.createTempDirectory(baseDir(), "cluster-");
        Path data = runDir.resolve("data");
        Path log = runDir.resolve("postgres.log");
        String password = randomHex();
        Path pwfile = Files.writeString(runDir.resolve("pwfile"), password + "\n");
        if (root) {
            for (Path p : List.of(runDir, pwfile)) {
                Files.setAttribute(p, "unix:uid", UNPRIVILEGED_ID, LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(p, "unix:gid", UNPRIVILEGED_ID, LinkOption.NOFOLLOW_LINKS);
            }
        }
        run(root, log, bin.resolve("initdb").toString(), "-D", data.toString(), "-U", SUPERUSER,
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
            Process postgres = command(root, log, bin.resolve("postgres").toString(), "-D", data.toString(),
                    "-p", Integer.toString(port)).start();
            Process watchdog = new ProcessBuilder("sh", "-c", WATCHDOG, "watchdog",
                    Long.toString(postgres.pid()), runDir.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
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
        deleteTree(runDir);
        throw last;
    }

    private void awaitReady(Path log) throws IOException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        SQLException lastFailure = null;
        while (System.nanoTime() < deadline) {
            if (!postgres.isAlive()) throw new IOException("postgres exited at start:\n" + tail(log));
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
        throw new IOException("postgres not ready after " + START_TIMEOUT + ":\n" + tail(log), lastFailure);
    }

    private static void run(boolean root, Path log, String... command) throws IOException {
        Process p = command(root, log, command).start();
        try {
            if (!p.waitFor(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(command[0] + " did not finish in " + START_TIMEOUT);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (p.exitValue() != 0) throw new IOException(command[0] + " failed:\n" + tail(log));
    }

    /** As root, through setpriv as the unprivileged user; output appended to the cluster's log. */
    private static ProcessBuilder command(boolean root, Path log, String... command) {
        List<String> argv = new ArrayList<>();
        if (root) {
            argv.addAll(List.of("setpriv", "--reuid=" + UNPRIVILEGED_ID, "--regid=" + UNPRIVILEGED_ID,
                    "--clear-groups", "--"));
        }
        argv.addAll(List.of(command));
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().keySet().removeIf(k -> k.startsWith("PG") || k.startsWith("LC_"));
        pb.environment().put("LANG", "C");
        return pb;
    }

    /** {@code java.io.tmpdir/kiln-embedded-pg-<uid>}: ours alone, and traversable by the unprivileged user. */
    static Path baseDir() throws IOException {
        Path base = Path.of(System.getProperty("java.io.tmpdir"), "kiln-embedded-pg-" + uid());
        if (!Files.exists(base, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(base);
            Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        int owner = (Integer) Files.getAttribute(base, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (!Files.isDirectory(base, LinkOption.NOFOLLOW_LINKS) || owner != uid()) {
            throw new IOException(base + " is not a directory of this user");
        }
        return base;
    }

    static int uid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    static void deleteTree(Path top) throws IOException {
        Files.walkFileTree(top, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) throw e;
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
