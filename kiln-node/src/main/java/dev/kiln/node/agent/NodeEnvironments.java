package dev.kiln.node.agent;

import dev.kiln.core.Environments;
import dev.kiln.core.JobType;
import dev.kiln.core.LayerUnavailableException;
import dev.kiln.core.PackageSpec;
import dev.kiln.sandbox.BuildOutcome;
import dev.kiln.sandbox.LayerStore;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Job-type layers on a remote node. The orchestrator's digest is computed on the orchestrator's host (its
 * interpreter, pip and shared code), so a node digests the type itself and builds the layer on first use
 * (development-mode semantics: a node has no build endpoint of its own). What it provisions, and the layers executions
 * hold, go to the {@link NodeLayerCollector} that removes the layers it no longer needs.
 */
public final class NodeEnvironments implements Environments {
    private static final Logger log = LoggerFactory.getLogger(NodeEnvironments.class);

    private final LayerStore layers;
    private final NodeLayerCollector collector; // null: layers are kept for ever (tests, no sandbox)
    // Digesting reads every shared-code file and asks pip its version: once per package spec is enough. Bounded:
    // each execute carries the type's current definition, and definitions change through the API.
    private final Map<PackageSpec, String> digests = Collections.synchronizedMap(
            new LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<PackageSpec, String> eldest) {
                    return size() > 256;
                }
            });

    /** @param layers null when this node has no sandbox: types that need a layer are unavailable here */
    public NodeEnvironments(LayerStore layers) {
        this(layers, null);
    }

    /** @param collector told what is provisioned and held (null: nothing is ever removed) */
    NodeEnvironments(LayerStore layers, NodeLayerCollector collector) {
        this.layers = layers;
        this.collector = collector;
    }

    /**
     * Keeps the execution's layer ({@code digest}, null: none) from removal until the hold is closed; take it before
     * {@link #provision}.
     */
    NodeLayerCollector.ExecutionHold hold(String digest) {
        return collector == null ? NodeLayerCollector.ExecutionHold.NONE : collector.hold(digest);
    }

    /**
     * This node's digest of the type's layer (null when the type needs none).
     *
     * @throws LayerUnavailableException when the node cannot have that layer (no sandbox, no such interpreter,
     *                                   shared code missing here, ...)
     */
    @Override
    public String digestToRun(JobType type) {
        if (!type.needsLayer()) return null;
        if (layers == null) {
            throw new LayerUnavailableException("job type '" + type.name() + "' needs a layer, and this node has no "
                    + "sandbox to build or run it");
        }
        try {
            return digests.computeIfAbsent(type.packages(), layers::digest);
        } catch (IllegalArgumentException e) {
            throw new LayerUnavailableException("job type '" + type.name() + "' cannot be built on this node: "
                    + e.getMessage());
        }
    }

    /** Builds the layer when missing; returns the milliseconds spent. */
    @Override
    public long provision(JobType type, String digest) {
        if (layers == null) digestToRun(type); // throws the explanation
        if (layers.exists(digest)) {
            provisioned(type, digest);
            return 0;
        }
        BuildOutcome outcome;
        try {
            outcome = layers.build(type.packages(), line -> log.debug("[{}] {}", type.name(), line));
        } catch (IllegalArgumentException e) {
            throw new LayerUnavailableException("job type '" + type.name() + "' cannot be built on this node: "
                    + e.getMessage());
        }
        if (!outcome.success()) {
            throw new LayerUnavailableException("building job type '" + type.name() + "' on this node failed: "
                    + outcome.error());
        }
        if (!outcome.digest().equals(digest)) {
            // The definition's inputs changed on disk since it was digested (e.g. shared code edited): digest anew
            // next time.
            digests.remove(type.packages());
            throw new LayerUnavailableException("job type '" + type.name() + "' changed on this node while it was "
                    + "built (layer " + outcome.digest() + ", expected " + digest + "); run the job again");
        }
        log.info("job type '{}' layer {} ready ({} ms)", type.name(), outcome.digest(), outcome.millis());
        provisioned(type, digest);
        return outcome.millis();
    }

    private void provisioned(JobType type, String digest) {
        if (collector != null) collector.provisioned(type.name(), digest);
    }
}
