package dev.kiln.sandbox;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The compiled seccomp programs of this JVM, one file per variant (without and with the network), in a private
 * directory ({@code 0700}, removed at exit) that only Kiln's own wrapper shell reads: it opens the file on fd 3
 * before exec'ing bwrap {@code --seccomp 3}, as root before setpriv or as Kiln's user. Compiled once, on first use
 * (the first executor, layer store or command built), so a host without libseccomp fails at start, not per job.
 * {@code KILN_SECCOMP=off} in Kiln's environment runs sandboxes without a filter (logged as a warning at start);
 * nested user namespaces stay disabled by bwrap either way.
 */
final class SeccompFilters {
    static final String ENV = "KILN_SECCOMP";
    private static final Logger log = LoggerFactory.getLogger(SeccompFilters.class);
    private static SeccompFilters shared;

    private final Path offline; // null: no filter
    private final Path online;

    private SeccompFilters(Path offline, Path online) {
        this.offline = offline;
        this.online = online;
    }

    /**
     * This JVM's filters, compiled now if they are not yet.
     *
     * @throws IllegalStateException when libseccomp is missing or the filters cannot be compiled (and not off)
     */
    static synchronized SeccompFilters shared() {
        if (shared == null) shared = create("off".equalsIgnoreCase(System.getenv(ENV)));
        return shared;
    }

    static SeccompFilters create(boolean off) {
        if (off) {
            log.warn("{}=off: sandboxes run without a seccomp filter (io_uring, keyctl, bpf, perf_event_open, "
                    + "ptrace and the rest of docs/sandbox.md's list stay reachable by jobs)", ENV);
            return new SeccompFilters(null, null);
        }
        SeccompCompiler compiler = SeccompCompiler.load();
        try {
            Path dir = Files.createTempDirectory("kiln-seccomp-", PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwx------")));
            Path offline = dir.resolve("sandbox.bpf");
            Path online = dir.resolve("sandbox-network.bpf");
            compiler.compile(SeccompPolicy.sandbox(false), offline);
            compiler.compile(SeccompPolicy.sandbox(true), online);
            // deleteOnExit deletes in reverse order of registration: the files, then the directory
            for (Path p : new Path[]{dir, offline, online}) p.toFile().deleteOnExit();
            log.info("seccomp filters compiled: {} ({} bytes), {} ({} bytes)", offline, Files.size(offline), online,
                    Files.size(online));
            return new SeccompFilters(offline, online);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot compile the sandbox seccomp filter: " + e.getMessage(), e);
        }
    }

    /** The program for a sandbox with or without the network; null when filtering is off. */
    Path file(boolean network) {
        return network ? online : offline;
    }

    boolean enabled() {
        return offline != null;
    }
}
