package dev.kiln.core;

/**
 * Limits on what a request may carry. Sizes in bytes. {@code maxBodyBytes} is enforced by the transport before
 * parsing; the others by {@link JobSpecValidator}.
 */
public record RequestLimits(long maxBodyBytes, long maxCodeBytes, long maxInputBytes, int maxFiles, long maxFileBytes,
                            long maxFilesTotalBytes) {
    public static final RequestLimits DEFAULTS =
            new RequestLimits(16L << 20, 1L << 20, 4L << 20, 100, 4L << 20, 8L << 20);
}
