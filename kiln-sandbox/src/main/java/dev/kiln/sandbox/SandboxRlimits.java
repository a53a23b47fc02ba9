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
 * <li>{@code RLIMIT_NPROC} {@code processes} (0: left as inherited), only when the sandbox runs as a host uid of
 * its own (Kiln is root; {@link SandboxUids}): a second line behind the pids cgroup. It counts the processes and
 * threads of that uid on the whole host, which are the sandbox's alone, so it is the sandbox's pids limit plus
 * bubblewrap's own few. Without root every sandbox runs as Kiln's uid and the limit would count Kiln too: left
 * alone.</li>
 * </ul>
 */
record SandboxRlimits(long openFiles, long fileSizeBytes, long processes) {
    static final long JOB_OPEN_FILES = 1024;
    static final long BUILD_OPEN_FILES = 4096;
    /** bubblewrap's own processes in a sandbox (its pid 1, the monitor), above the job's pids limit. */
    static final long BWRAP_PROCESSES = 8;
    private static final long BLOCK = 512; // dash's ulimit -f unit

    SandboxRlimits {
        if (openFiles <= 0) throw new IllegalArgumentException("openFiles must be positive");
        if (fileSizeBytes < 0 || processes < 0) throw new IllegalArgumentException("limits must not be negative");
    }

    /** A job's: FSIZE the larger of its /output cap and its /tmp size; NPROC {@code processes} (0: none). */
    static SandboxRlimits forJob(long outputBytes, long tmpBytes, long processes) {
        return new SandboxRlimits(JOB_OPEN_FILES, roundUp(Math.max(Math.max(outputBytes, tmpBytes), BLOCK)),
                processes);
    }

    /** A layer build's: no FSIZE (pip writes wheels of any size into the staging dirs). */
    static SandboxRlimits forLayerBuild(long processes) {
        return new SandboxRlimits(BUILD_OPEN_FILES, 0, processes);
    }

    /** NPROC for a sandbox with that pids limit: only with a host uid of its own. */
    static long processes(int pidsLimit, boolean ownUid) {
        return ownUid ? pidsLimit + BWRAP_PROCESSES : 0;
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
