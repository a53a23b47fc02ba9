package dev.kiln.node.agent;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The node's side of its lease. The orchestrator declares a node lost once it has heard nothing from it for the
 * lease, and runs its executions elsewhere. The node cannot see what the orchestrator heard, but it learns what
 * arrived: a {@code welcome} answers the {@code hello}, an {@code ack} its message, a pong the ping sent after a
 * heartbeat, a 2xx the POST that carried one. Each confirms that everything sent before it arrived, so the
 * orchestrator renewed the lease at that moment or later. Once nothing sent in the last lease (less a guard for the
 * kill) is confirmed, the node is cut off: the orchestrator may already have given its work to another node.
 * Times are from a monotonic clock ({@link System#nanoTime()}).
 */
final class LeaseFence {
    private final LongSupplier nanoTime;
    private final AtomicLong confirmedNanos = new AtomicLong();
    private volatile long leaseNanos; // 0 until the first welcome: never cut off before

    LeaseFence(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    /** Welcomed with the orchestrator's lease (the transport confirmed the hello already). */
    void welcomed(int leaseMillis) {
        leaseNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(1, leaseMillis));
    }

    /** What was sent up to {@code sentNanos} is known to have reached the orchestrator. */
    void confirmed(long sentNanos) {
        confirmedNanos.accumulateAndGet(sentNanos, (a, b) -> a == 0 || b - a > 0 ? b : a);
    }

    /** The latest confirmed send time; 0 before the first welcome. */
    long confirmedNanos() {
        return confirmedNanos.get();
    }

    /**
     * Whether the lease may have run out on the orchestrator: nothing sent in the last lease minus a tenth of it
     * was confirmed. The tenth is the head start the node's kill has over the orchestrator's lease check.
     */
    boolean cutOff() {
        long lease = leaseNanos;
        if (lease == 0) return false;
        return nanoTime.getAsLong() - confirmedNanos.get() > lease - lease / 10;
    }

    /** How often to ask {@link #cutOff()} for a lease of {@code leaseMillis}: a twentieth of it, 10 to 250 ms. */
    static long checkEveryMillis(int leaseMillis) {
        return Math.max(10, Math.min(250, leaseMillis / 20));
    }
}
