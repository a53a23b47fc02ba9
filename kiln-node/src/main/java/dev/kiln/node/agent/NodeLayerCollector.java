package dev.kiln.node.agent;

import dev.kiln.sandbox.LayerLease;
import dev.kiln.sandbox.LayerStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes the job-type layers a remote node no longer needs. The orchestrator never tells a node to forget a layer,
 * so the node decides from what it runs:
 * <ul>
 *   <li><b>superseded</b>: a type provisioned on a new digest leaves its previous one, unless another type still runs
 *       on it; it goes at once (in the background);</li>
 *   <li><b>idle</b>: a layer not used for the TTL goes at the next {@link #sweep}. The last use is the layer
 *       directory's mtime ({@link LayerStore#markUsed}), so it survives restarts: after one, age alone decides.</li>
 * </ul>
 * A layer an open lease holds (an execution, a warm sandbox) is never removed: it waits, and goes when its last
 * lease closes. The warm pools on a doomed layer are retired first, or their sandboxes would hold it for ever.
 */
final class NodeLayerCollector {
    private static final Logger log = LoggerFactory.getLogger(NodeLayerCollector.class);
    private static final Duration MAX_SWEEP_INTERVAL = Duration.ofHours(1);

    private final LayerStore layers;
    private final NodePools pools;
    private final Duration ttl;
    private final Clock clock;
    private final Executor background;
    // Guarded by this.
    private final Map<String, String> current = new HashMap<>(); // type name -> the digest it last ran on here
    private final Set<String> doomed = new HashSet<>(); // superseded or idle; removed once no lease holds them

    /**
     * @param background where removals run (never a job's thread); a direct executor makes them synchronous
     */
    NodeLayerCollector(LayerStore layers, NodePools pools, Duration ttl, Clock clock, Executor background) {
        this.layers = Objects.requireNonNull(layers, "layers");
        this.pools = Objects.requireNonNull(pools, "pools");
        this.ttl = LayerTtl.check(ttl);
        this.clock = Objects.requireNonNull(clock, "clock");
        this.background = Objects.requireNonNull(background, "background");
        layers.onLastLeaseClosed(this::unleased);
    }

    /** How often to {@link #sweep}: hourly, or twice per TTL when that is shorter. */
    static Duration sweepInterval(Duration ttl) {
        Duration half = ttl.dividedBy(2);
        return half.compareTo(MAX_SWEEP_INTERVAL) < 0 ? half : MAX_SWEEP_INTERVAL;
    }

    /**
     * Keeps {@code digest} (null: none) for one execution, from before its layer is provisioned until its result:
     * neither rule removes it meanwhile. Closing records the use again, so a job longer than the TTL does not leave
     * its layer looking idle.
     */
    ExecutionHold hold(String digest) {
        if (digest == null) return ExecutionHold.NONE;
        LayerLease lease = layers.acquire(digest);
        return new ExecutionHold(() -> {
            try {
                layers.markUsed(digest, clock.instant()); // before the lease goes: the layer is not idle when it does
            } finally {
                lease.close();
            }
        });
    }

    /**
     * A job of type {@code typeName} is about to run on {@code digest}, which is built: its use is recorded, and
     * the digest the type ran on before here (if different and no other type's) is superseded.
     */
    void provisioned(String typeName, String digest) {
        layers.markUsed(digest, clock.instant());
        String previous;
        synchronized (this) {
            doomed.remove(digest);
            previous = current.put(typeName, digest);
            if (previous == null || previous.equals(digest) || current.containsValue(previous)) return;
            doomed.add(previous);
        }
        log.info("job type '{}' runs on layer {} now; layer {} is superseded", typeName, digest, previous);
        inBackground(() -> {
            if (collect(previous)) log.info("removed superseded layer {}", previous);
        });
    }

    /**
     * Dooms the layers not used for the TTL and removes every doomed layer no lease holds; the others go when
     * released. Returns how many it removed.
     */
    int sweep() {
        List<String> idle = new ArrayList<>();
        for (String digest : layers.digests()) {
            if (isIdle(digest)) idle.add(digest);
        }
        List<String> candidates;
        synchronized (this) {
            doomed.addAll(idle);
            candidates = List.copyOf(doomed);
        }
        List<String> removed = new ArrayList<>();
        for (String digest : candidates) {
            if (collect(digest)) removed.add(digest);
        }
        int waiting;
        synchronized (this) {
            waiting = doomed.size();
        }
        log.info("layer sweep: removed {} layer(s) superseded or unused for {}{}{}", removed.size(),
                LayerTtl.format(ttl), removed.isEmpty() ? "" : " " + removed,
                waiting == 0 ? "" : "; " + waiting + " more go once running jobs or warm sandboxes release them");
        return removed.size();
    }

    /** {@link #sweep} for a scheduler: a failure is logged, and the next sweep still comes. */
    void sweepQuietly() {
        try {
            sweep();
        } catch (RuntimeException e) {
            log.warn("layer sweep failed", e);
        }
    }

    /** The last lease on {@code digest} closed: a doomed layer can go now. */
    private void unleased(String digest) {
        synchronized (this) {
            if (!doomed.contains(digest)) return;
        }
        inBackground(() -> {
            if (collect(digest)) log.info("removed layer {} once released", digest);
        });
    }

    /**
     * Removes a doomed layer if it is still due (no type's current layer, or idle) and unleased; true when removed.
     * Executions lease their layer before provisioning it, so one starting meanwhile keeps it.
     */
    private boolean collect(String digest) {
        synchronized (this) {
            if (!doomed.contains(digest)) return false;
            if (!layers.exists(digest) || (current.containsValue(digest) && !isIdle(digest))) {
                doomed.remove(digest);
                return false;
            }
        }
        pools.retire(digest); // their sandboxes' leases close as they are destroyed, and bring the layer back here
        if (!layers.removeIfUnleased(digest)) return false;
        synchronized (this) {
            doomed.remove(digest);
            current.values().removeIf(digest::equals); // an idle type's layer: a next job builds it anew
        }
        return true;
    }

    private boolean isIdle(String digest) {
        Optional<Instant> used = layers.lastUsed(digest);
        return used.isPresent() && used.get().isBefore(clock.instant().minus(ttl));
    }

    private void inBackground(Runnable task) {
        try {
            background.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    log.warn("removing a layer failed", e);
                }
            });
        } catch (RejectedExecutionException e) {
            // the node is stopping: what is left is judged by age at the next start
        }
    }

    /** An execution's hold on its layer; closing it twice is harmless. */
    static final class ExecutionHold implements AutoCloseable {
        static final ExecutionHold NONE = new ExecutionHold(() -> {
        });

        private Runnable release;

        private ExecutionHold(Runnable release) {
            this.release = release;
        }

        @Override
        public synchronized void close() {
            if (release == null) return;
            Runnable r = release;
            release = null;
            r.run();
        }
    }
}
