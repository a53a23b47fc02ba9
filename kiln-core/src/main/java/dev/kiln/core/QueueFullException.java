package dev.kiln.core;

/** 503: the queue holds {@code max_queue_size} jobs; the client should retry after {@link #retryAfterSeconds()}. */
public final class QueueFullException extends ServiceUnavailableException {
    public QueueFullException(long maxQueueSize, int retryAfterSeconds) {
        super("queue_full", "the queue is full (max_queue_size " + maxQueueSize + "); retry later", retryAfterSeconds,
                null);
    }
}
