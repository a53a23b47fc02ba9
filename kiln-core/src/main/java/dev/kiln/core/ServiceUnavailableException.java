package dev.kiln.core;

/** 503: Kiln cannot take the request now (queue full, store unreachable); retry after {@link #retryAfterSeconds()}. */
public class ServiceUnavailableException extends KilnException {
    private final int retryAfterSeconds;

    public ServiceUnavailableException(String code, String message, int retryAfterSeconds, Throwable cause) {
        super(503, code, null, message);
        this.retryAfterSeconds = retryAfterSeconds;
        if (cause != null) initCause(cause);
    }

    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
