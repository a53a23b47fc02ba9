package dev.kiln.core;

/** 503: the queue holds {@code max_queue_size} jobs; the client should retry after {@link #retryAfterSeconds()}. */
public final class QueueFullException extends KilnException {
    private final int retryAfterSeconds;

    public QueueFullException(long maxQueueSize, int retryAfterSeconds) {
        super(503, "queue_full", null, "the queue is full (max_queue_size " + maxQueueSize + "); retry later");
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
