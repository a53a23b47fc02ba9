package dev.kiln.core;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** The nodes this orchestrator places work on, and which of them are drained: a node's state in one place. */
final class NodeMembership {
    private final List<ComputeNode> nodes = new CopyOnWriteArrayList<>();
    private final Set<String> draining = ConcurrentHashMap.newKeySet();

    /** Adds the node, replacing one with the same id. */
    void add(ComputeNode node) {
        nodes.removeIf(n -> n.id().equals(node.id()));
        nodes.add(node);
    }

    void remove(ComputeNode node) {
        nodes.remove(node);
        draining.remove(node.id());
    }

    List<ComputeNode> all() {
        return nodes;
    }

    ComputeNode require(String id) {
        return nodes.stream().filter(n -> n.id().equals(id)).findFirst()
                .orElseThrow(() -> KilnException.notFound("node " + id));
    }

    boolean isInProcess(String nodeId) {
        return nodes.stream().anyMatch(n -> n.id().equals(nodeId) && n.inProcess());
    }

    void drain(String id) {
        draining.add(require(id).id());
    }

    void resume(String id) {
        draining.remove(require(id).id());
    }

    /** A drain decided elsewhere (another replica, the store): kept also for a node that has not joined yet. */
    void setDraining(String id, boolean drain) {
        if (drain) draining.add(id);
        else draining.remove(id);
    }

    boolean isDraining(ComputeNode node) {
        return draining.contains(node.id());
    }

    boolean isDraining(String id) {
        return draining.contains(id);
    }

    /** Slots of the nodes connected now. */
    int capacity() {
        return nodes.stream().filter(ComputeNode::connected).mapToInt(ComputeNode::capacity).sum();
    }
}
