package dev.kiln.core;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;

/**
 * Jobs waiting for a node, in submission order, bounded by {@code max_queue_size}. A submitter first reserves a
 * place (so a full queue is refused before anything is written), then adds the stored job.
 */
final class ReadyQueue {
    private final int capacity;
    private final Deque<JobRecord> jobs = new ArrayDeque<>();
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
        jobs.addLast(job);
    }

    /** Jobs found queued at start-up: they were accepted before, so they are never refused. */
    synchronized void addRecovered(JobRecord job) {
        jobs.addLast(job);
    }

    synchronized JobRecord peek() {
        return jobs.peekFirst();
    }

    synchronized JobRecord poll() {
        return jobs.pollFirst();
    }

    synchronized boolean remove(String jobId) {
        for (Iterator<JobRecord> it = jobs.iterator(); it.hasNext(); ) {
            if (it.next().id().equals(jobId)) {
                it.remove();
                return true;
            }
        }
        return false;
    }

    synchronized int size() {
        return jobs.size();
    }
}
