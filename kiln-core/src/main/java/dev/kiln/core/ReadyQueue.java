package dev.kiln.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Jobs waiting for a node, in submission order, bounded by {@code max_queue_size}. A submitter first reserves a
 * place (so a full queue is refused before anything is written), then adds the stored job. Jobs leave by id: one
 * that fits no node yet waits without holding up the jobs behind it.
 */
final class ReadyQueue {
    private final int capacity;
    private final LinkedHashMap<String, JobRecord> jobs = new LinkedHashMap<>();
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
        jobs.put(job.id(), job);
    }

    /** Jobs found queued at start-up: they were accepted before, so they are never refused. */
    synchronized void addRecovered(JobRecord job) {
        jobs.put(job.id(), job);
    }

    /** The oldest {@code n} jobs, oldest first. */
    synchronized List<JobRecord> head(int n) {
        List<JobRecord> out = new ArrayList<>(Math.min(n, jobs.size()));
        for (JobRecord j : jobs.values()) {
            if (out.size() == n) break;
            out.add(j);
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
