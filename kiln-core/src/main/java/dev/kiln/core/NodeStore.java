package dev.kiln.core;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Compute nodes as every orchestrator replica sharing the store sees them: which replica holds a node's connection,
 * whether an operator drained or removed it, and what the node looked like when that replica last said
 * ({@code view}, the JSON {@code GET /nodes} shows). Drained and removed are the truth here; a replica's own node
 * list is a cache of it, kept in step by {@link StoreSignals.Topic#NODES} signals.
 */
public interface NodeStore {
    /**
     * One node. {@code replica}: the replica that last published it; {@code view}: its JSON then (null until one
     * has); {@code removed}: an operator removed it, and the replica holding it has not yet let it go.
     */
    record NodeRow(String id, String replica, boolean draining, boolean removed, String view, Instant updatedAt) {
    }

    /** A store with nowhere to keep nodes: drains live only in this process. */
    NodeStore NONE = new NodeStore() {
        @Override
        public NodeRow joined(String id, String replica, String view, Instant at) {
            return new NodeRow(id, replica, false, false, view, at);
        }

        @Override
        public void publish(String replica, Map<String, String> views, Instant at) {
        }

        @Override
        public Optional<NodeRow> find(String id) {
            return Optional.empty();
        }

        @Override
        public List<NodeRow> list() {
            return List.of();
        }

        @Override
        public void setDraining(String id, boolean draining, Instant at) {
        }

        @Override
        public void markRemoved(String id, Instant at) {
        }

        @Override
        public void delete(String id) {
        }

        @Override
        public int deleteNotPublishedSince(Instant cutoff) {
            return 0;
        }
    };

    /**
     * A node (re)joined {@code replica}: it is no longer removed (one that was comes back not drained), and the replica publishes it. Returns the row, so
     * the replica learns whether the node is drained before it gives it work.
     */
    NodeRow joined(String id, String replica, String view, Instant at);

    /** What the nodes {@code replica} holds look like now (id → view); drained and removed marks are kept. */
    void publish(String replica, Map<String, String> views, Instant at);

    Optional<NodeRow> find(String id);

    /** Every node, by id. */
    List<NodeRow> list();

    /** Drains (or resumes) the node, creating its row when no replica has published it yet. */
    void setDraining(String id, boolean draining, Instant at);

    /** The operator removed the node; the replica holding it lets it go, then {@link #delete}s it. */
    void markRemoved(String id, Instant at);

    void delete(String id);

    /** Forgets nodes no replica has published since {@code cutoff} (long gone); returns how many. */
    int deleteNotPublishedSince(Instant cutoff);
}
