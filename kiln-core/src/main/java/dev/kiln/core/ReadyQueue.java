package dev.kiln.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Jobs waiting for a node, in the order they became ready, bounded by {@code max_queue_size}. A submitter first
 * reserves a place (so a full queue is refused before anything is written), then adds the stored job. Jobs leave by
 * id: one that fits no node yet waits without holding up the jobs behind it.
 */
final class ReadyQueue {
    /**
     * A waiting job, when it became ready ({@link System#nanoTime()}), the node it was lost on (or null), and its
     * constraints parsed once (placement looks at a waiting job every round).
     */
    record Waiting(JobRecord job, long readyNanos, String avoidNodeId, List<LabelConstraint> constraints) {
        Waiting(JobRecord job, String avoidNodeId) {
            this(job, System.nanoTime(), avoidNodeId, job.spec().constraints().isEmpty() ? List.of()
                    : job.spec().constraints().stream().map(LabelConstraint::parse).toList()); // validated at submission
        }
    }

    private final int capacity;
    private final LinkedHashMap<String, Waiting> jobs = new LinkedHashMap<>();
    private int reserved;

    ReadyQueue(int capacity) {
        this.capacity = capacity;
    }

    synchronized boolean tryReserve() {
        if (jobs.size() + reserved >= capacity) return false;
        reserved++;
        return true;
    }

    synchronized void cancelReservation() {
        reserved--;
    }

    synchronized void addReserved(JobRecord job) {
        reserved--;
        jobs.put(job.id(), new Waiting(job, null));
    }

    /** Jobs found queued at start-up or re-queued: they were accepted before, so they are never refused. */
    synchronized void addAccepted(JobRecord job, String avoidNodeId) {
        jobs.put(job.id(), new Waiting(job, avoidNodeId));
    }

    /** The oldest {@code n} jobs, oldest first. */
    synchronized List<Waiting> head(int n) {
        List<Waiting> out = new ArrayList<>(Math.min(n, jobs.size()));
        for (Waiting w : jobs.values()) {
            if (out.size() == n) break;
            out.add(w);
        }
        return out;
    }

    synchronized boolean remove(String jobId) {
        return jobs.remove(jobId) != null;
    }

    synchronized int size() {
        return jobs.size();
    }
}
