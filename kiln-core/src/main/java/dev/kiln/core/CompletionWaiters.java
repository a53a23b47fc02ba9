package dev.kiln.core;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Lets callers block until a job reaches a terminal state, without polling the store. */
final class CompletionWaiters {
    private static final class Entry {
        final CompletableFuture<Void> done = new CompletableFuture<>();
        int waiters;
    }

    private final Map<String, Entry> entries = new HashMap<>();

    /** Registers interest; the caller must {@link #release} the returned entry. */
    synchronized Object register(String jobId) {
        Entry e = entries.computeIfAbsent(jobId, k -> new Entry());
        e.waiters++;
        return e;
    }

    synchronized void release(String jobId, Object handle) {
        Entry e = (Entry) handle;
        if (--e.waiters == 0 && entries.get(jobId) == e) entries.remove(jobId);
    }

    void await(Object handle, Duration timeout) throws InterruptedException {
        try {
            ((Entry) handle).done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // the caller re-reads the store either way
        }
    }

    void completed(String jobId) {
        Entry e;
        synchronized (this) {
            e = entries.remove(jobId);
        }
        if (e != null) e.done.complete(null);
    }

    synchronized int size() {
        return entries.size();
    }
}
