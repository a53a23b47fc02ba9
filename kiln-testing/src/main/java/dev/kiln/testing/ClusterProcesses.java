package dev.kiln.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the PostgreSQL programs of {@link TestPostgres}. PostgreSQL refuses to run as root, so as root (CI) each
 * runs through {@code setpriv} as uid and gid 65534 ({@code nobody}: initdb needs the uid in the passwd file), and
 * the cluster directory is handed over to that user; the binaries are world-readable. That needs no user namespace,
 * unlike zonky's own launcher ({@code unshare -U}), which containers often forbid. Without root they run as the
 * current user.
 *
 * <p>Stopping: a watchdog shell waits on a pipe from this JVM; when the JVM closes it or dies, even by SIGKILL, the
 * watchdog stops the server (fast shutdown, then harder) and deletes the cluster directory.
 */
final class ClusterProcesses {
    static final int UNPRIVILEGED_ID = 65534;
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

    private ClusterProcesses() {
    }

    static boolean root() {
        return uid() == 0;
    }

    /** As root, gives the files to the unprivileged user the programs run as. */
    static void handOver(Path... paths) throws IOException {
        if (!root()) return;
        for (Path p : paths) {
            Files.setAttribute(p, "unix:uid", UNPRIVILEGED_ID, LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(p, "unix:gid", UNPRIVILEGED_ID, LinkOption.NOFOLLOW_LINKS);
        }
    }

    /** Starts the watchdog of {@code postgres}; closing its standard input stops the server. */
    static Process watchdog(Process postgres, Path runDir) throws IOException {
        return new ProcessBuilder("sh", "-c", WATCHDOG, "watchdog", Long.toString(postgres.pid()), runDir.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    static void run(Path log, Duration timeout, String... command) throws IOException {
        Process p = command(log, command).start();
        try {
            if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(command[0] + " did not finish in " + timeout);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (p.exitValue() != 0) throw new IOException(command[0] + " failed:\n" + tail(log));
    }

    /** As root, through setpriv as the unprivileged user; output appended to the cluster's log. */
    static ProcessBuilder command(Path log, String... command) {
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

    static String tail(Path log) {
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
