package dev.kiln.server.nodes;

import dev.kiln.core.OutputLimits;

/** How large one node message may be: a result carries its artifacts base64-encoded (4/3) plus stdout and stderr. */
public final class NodeMessageLimits {
    private static final long ENVELOPE = 1L << 20;

    private NodeMessageLimits() {
    }

    public static long maxResultBytes(OutputLimits limits) {
        long payload = limits.maxOutputDirBytes() + limits.maxStdoutBytes() + limits.maxStderrBytes();
        // stdout/stderr are JSON-escaped: up to 6 bytes per char for control characters.
        return ENVELOPE + payload * 4 / 3 + 6 * (limits.maxStdoutBytes() + limits.maxStderrBytes());
    }
}
