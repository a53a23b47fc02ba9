package dev.kiln.sandbox;

import java.util.List;

/**
 * The resource limits the wrapper shell sets (dash's {@code ulimit}, soft and hard alike, so the job cannot raise
 * them) before bwrap starts; everything in the sandbox inherits them.
 * <ul>
 * <li>{@code RLIMIT_CORE} 0, always: no core file is ever written, wherever the host's {@code core_pattern}
 * points.</li>
 * <li>{@code RLIMIT_NOFILE} {@code openFiles}.</li>
 * <li>{@code RLIMIT_FSIZE} {@code fileSizeBytes} (0: left as inherited): no single file larger than the larger of
 * the execution's /output cap and its /tmp size, so a write past it fails with EFBIG ("File too large", classified
 * as {@code output_limit}) also where /output is not a size-capped tmpfs (Kiln not root).</li>
 * <li>{@code RLIMIT_NPROC} {@code processes} (0: left as inherited), only when the sandbox runs as the shared
 * uid 65534: a second line behind the pids cgroup. It counts every process of that uid on the host (all
 * sandboxes share it until each slot gets a uid of its own), so it is a host-wide ceiling, not per job.</li>
 * </ul>
 */
record SandboxRlimits(long openFiles, long fileSizeBytes, long processes) {
    static final long JOB_OPEN_FILES = 1024;
    static final long BUILD_OPEN_FILES = 4096;
    /**
     * Processes and threads of uid 65534 on the whole host: 256 sandboxes at the default pids limit (64), 16
     * layer builds at theirs (1024). Above what any node here runs at once (slots plus warm pools).
     */
    static final long SHARED_UID_PROCESSES = 16384;
    private static final long BLOCK = 512; // dash's ulimit -f unit

    SandboxRlimits {
        if (openFiles <= 0) throw new IllegalArgumentException("openFiles must be positive");
        if (fileSizeBytes < 0 || processes < 0) throw new IllegalArgumentException("limits must not be negative");
    }

    /** A job's: FSIZE the larger of its /output cap and its /tmp size. */
    static SandboxRlimits forJob(long outputBytes, long tmpBytes, boolean sharedUid) {
        return new SandboxRlimits(JOB_OPEN_FILES, roundUp(Math.max(Math.max(outputBytes, tmpBytes), BLOCK)),
                sharedUid ? SHARED_UID_PROCESSES : 0);
    }

    /** A layer build's: no FSIZE (pip writes wheels of any size into the staging dirs). */
    static SandboxRlimits forLayerBuild(boolean sharedUid) {
        return new SandboxRlimits(BUILD_OPEN_FILES, 0, sharedUid ? SHARED_UID_PROCESSES : 0);
    }

    private static long roundUp(long bytes) {
        return (bytes + BLOCK - 1) / BLOCK * BLOCK;
    }

    /** The wrapper's three positional arguments: open files, file size in 512-byte blocks, processes ("-": keep). */
    List<String> wrapperArgs() {
        return List.of(Long.toString(openFiles), fileSizeBytes == 0 ? "-" : Long.toString(fileSizeBytes / BLOCK),
                processes == 0 ? "-" : Long.toString(processes));
    }
}
