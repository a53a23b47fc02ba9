package dev.kiln.core;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Lets callers block until a job reaches a terminal state, without polling or re-reading the store. */
final class CompletionWaiters {
    private static final class Entry {
        final CompletableFuture<JobRecord> done = new CompletableFuture<>();
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

    /** The terminal record, or null when the timeout passed first. */
    JobRecord await(Object handle, Duration timeout) throws InterruptedException {
        try {
            return ((Entry) handle).done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            return null;
        }
    }

    void completed(JobRecord job) {
        Entry e;
        synchronized (this) {
            e = entries.remove(job.id());
        }
        if (e != null) e.done.complete(job);
    }

    synchronized boolean isWaiting(String jobId) {
        return entries.containsKey(jobId);
    }

    synchronized java.util.List<String> waitedIds() {
        return java.util.List.copyOf(entries.keySet());
    }

    synchronized int size() {
        return entries.size();
    }
}
