package dev.kiln.server.nodes;

import java.util.Collection;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Declares a node lost once it was silent past its lease, checked every {@link #tickMillis()}, and notices when it
 * was not running itself. After the orchestrator was paused (a long GC, VM steal, SIGSTOP) every node looks silent,
 * though their heartbeats are only waiting to be read: when the gap since the previous check exceeds half the lease,
 * the watcher gives every node a fresh lease instead of declaring them all lost at once. A node that really went away
 * meanwhile is lost one lease later. Times come from a monotonic clock (injectable for tests).
 */
final class LeaseWatcher {
    private static final Logger log = LoggerFactory.getLogger(LeaseWatcher.class);

    /** What the watcher reports. */
    interface Listener {
        /** {@code node} was silent past the lease. */
        void expired(RemoteComputeNode node);

        /** The watcher did not run for {@code gapMillis}; every node got a fresh lease. */
        default void paused(long gapMillis) {
        }
    }

    private final long leaseNanos;
    private final long pauseNanos;
    private final long tickMillis;
    private final LongSupplier nanoTime;
    private final Supplier<? extends Collection<RemoteComputeNode>> nodes;
    private final Listener listener;
    private long lastCheckNanos;

    LeaseWatcher(int leaseMillis, LongSupplier nanoTime, Supplier<? extends Collection<RemoteComputeNode>> nodes,
                 Listener listener) {
        this.leaseNanos = TimeUnit.MILLISECONDS.toNanos(leaseMillis);
        this.pauseNanos = leaseNanos / 2;
        this.tickMillis = Math.max(20, Math.min(250, leaseMillis / 10));
        this.nanoTime = nanoTime;
        this.nodes = nodes;
        this.listener = listener;
        this.lastCheckNanos = nanoTime.getAsLong();
    }

    /** How often {@link #check()} is meant to run. */
    long tickMillis() {
        return tickMillis;
    }

    /** One check; called every {@link #tickMillis()} from one thread. */
    void check() {
        long now = nanoTime.getAsLong();
        long gap = now - lastCheckNanos;
        lastCheckNanos = now;
        if (gap > pauseNanos) {
            long gapMillis = TimeUnit.NANOSECONDS.toMillis(gap);
            log.warn("the node lease watcher did not run for {} ms (the orchestrator was paused: GC, VM steal?); "
                    + "every node gets a fresh lease of {} ms instead of being declared lost", gapMillis,
                    TimeUnit.NANOSECONDS.toMillis(leaseNanos));
            for (RemoteComputeNode node : nodes.get()) {
                if (!node.lost()) node.heard();
            }
            listener.paused(gapMillis);
            return;
        }
        for (RemoteComputeNode node : nodes.get()) {
            if (!node.lost() && node.silentNanos() > leaseNanos) listener.expired(node);
        }
    }
}
