package dev.kiln.core;

/**
 * Caps on what comes back out of a sandbox: stdout and stderr (each), the {@code /output} directory in total,
 * one artifact, and the number of artifacts. Everything that comes out of a sandbox is hostile.
 */
public record OutputLimits(long maxStdoutBytes, long maxStderrBytes, long maxOutputDirBytes, long maxArtifactBytes,
                           int maxArtifacts) {
    public static final OutputLimits DEFAULTS = new OutputLimits(64L << 10, 64L << 10, 64L << 20, 16L << 20, 100);
}
