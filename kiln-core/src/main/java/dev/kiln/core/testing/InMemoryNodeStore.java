package dev.kiln.core.testing;

import dev.kiln.core.NodeStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** The reference {@link NodeStore}: what the SQL backends must do, in a map. */
public final class InMemoryNodeStore implements NodeStore {
    private final Map<String, NodeRow> rows = new TreeMap<>();

    @Override
    public synchronized NodeRow joined(String id, String replica, String view, Instant at) {
        NodeRow old = rows.get(id);
        // A node removed by the operator comes back as a new one: not drained.
        NodeRow row = new NodeRow(id, replica, old != null && !old.removed() && old.draining(), false, view, at);
        rows.put(id, row);
        return row;
    }

    @Override
    public synchronized void publish(String replica, Map<String, String> views, Instant at) {
        views.forEach((id, view) -> {
            NodeRow old = rows.get(id);
            rows.put(id, new NodeRow(id, replica, old != null && old.draining(), old != null && old.removed(), view, at));
        });
    }

    @Override
    public synchronized Optional<NodeRow> find(String id) {
        return Optional.ofNullable(rows.get(id));
    }

    @Override
    public synchronized List<NodeRow> list() {
        return new ArrayList<>(rows.values());
    }

    @Override
    public synchronized void setDraining(String id, boolean draining, Instant at) {
        NodeRow old = rows.get(id);
        rows.put(id, old == null ? new NodeRow(id, null, draining, false, null, at)
                : new NodeRow(id, old.replica(), draining, old.removed(), old.view(), at));
    }

    @Override
    public synchronized void markRemoved(String id, Instant at) {
        NodeRow old = rows.get(id);
        if (old != null) rows.put(id, new NodeRow(id, old.replica(), old.draining(), true, old.view(), at));
    }

    @Override
    public synchronized void delete(String id) {
        rows.remove(id);
    }

    @Override
    public synchronized int deleteNotPublishedSince(Instant cutoff) {
        int before = rows.size();
        rows.values().removeIf(r -> r.updatedAt().isBefore(cutoff));
        return before - rows.size();
    }
}
