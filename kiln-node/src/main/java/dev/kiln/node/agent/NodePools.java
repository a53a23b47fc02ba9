package dev.kiln.node.agent;

import dev.kiln.core.JobType;
import dev.kiln.sandbox.BwrapExecutor;
import dev.kiln.sandbox.PoolSettings;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * Warm pools on a remote node. The node learns job types only from the executions it is sent, so a type's pool is
 * set up (or re-set when its definition or layer changed) once an execution of it has run here: that first one
 * starts cold and built the layer; the following ones find sandboxes waiting. Sized by the type's
 * {@code pool_size} (default: the node's slots).
 */
final class NodePools {
    private record Configured(JobType type, String digest, PoolSettings settings) {
    }

    private final BwrapExecutor bwrap;
    private final String defaultExecutor;
    private final int slots;
    private final Map<String, Configured> configured = new HashMap<>();

    /** {@code bwrap} null: no sandboxes here, nothing to pool. */
    NodePools(BwrapExecutor bwrap, String defaultExecutor, int slots) {
        this.bwrap = bwrap;
        this.defaultExecutor = defaultExecutor;
        this.slots = slots;
    }

    /** An execution of {@code type} ran on {@code digest} (null: no layer) with {@code executor}. */
    synchronized void ran(JobType type, String digest, String executor) {
        if (bwrap == null) return;
        String effective = executor != null ? executor : defaultExecutor;
        int size = type.pool().sizeFor(slots);
        if (!BwrapExecutor.NAME.equals(effective)) return;
        Configured want = new Configured(type, digest, size == 0 ? PoolSettings.DISABLED
                : new PoolSettings(size, type.pool().refillConcurrency(),
                        Duration.ofSeconds(type.pool().idleTtlSeconds())));
        if (want.equals(configured.get(type.name()))) return;
        bwrap.configurePool(type, digest, want.settings());
        configured.put(type.name(), want);
    }

    /**
     * Removes the pools on layer {@code digest}, which is to be removed: their sandboxes go, and with them the
     * leases that would keep it. The next execution of such a type that runs here sets its pool up again.
     */
    synchronized void retire(String digest) {
        if (bwrap == null || digest == null) return;
        configured.values().removeIf(c -> {
            if (!digest.equals(c.digest())) return false;
            bwrap.configurePool(c.type(), c.digest(), PoolSettings.DISABLED);
            return true;
        });
    }
}
