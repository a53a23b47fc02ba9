package dev.kiln.core;

/**
 * The store could not do what was asked (disk full, database unreachable, connection lost): nothing was changed
 * and the caller may retry. A store throws this, and only this, for failures that are not the request's fault; the
 * API answers 503 with {@code Retry-After}, and the orchestrator keeps what it could not write and writes it again.
 */
public final class StoreUnavailableException extends ServiceUnavailableException {
    public static final int RETRY_AFTER_SECONDS = 2;

    public StoreUnavailableException(String problem, Throwable cause) {
        super("store_unavailable", "the job store is unavailable (" + problem + "); retry later", RETRY_AFTER_SECONDS,
                cause);
    }
}
