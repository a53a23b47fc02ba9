package dev.kiln.core;

/** A client asked for more than its share (streams, connections, later quotas): 429, try again after a while. */
public class TooManyRequestsException extends KilnException {
    private final int retryAfterSeconds;

    public TooManyRequestsException(String code, String field, String message, int retryAfterSeconds) {
        super(429, code, field, message);
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
