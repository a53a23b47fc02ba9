package dev.kiln.core;

import java.util.List;
import java.util.function.ToIntFunction;

/** Chooses the node for an execution: among nodes with the executor and a free slot, the one with most free slots. */
public final class Placement {
    private Placement() {
    }

    public static ComputeNode pick(List<ComputeNode> nodes, String executor) {
        return pick(nodes, executor, ComputeNode::freeSlots);
    }

    /**
     * {@code executor} null means each node's default; {@code free} gives the free slots to count with (the
     * dispatcher's view while it places a batch).
     */
    public static ComputeNode pick(List<ComputeNode> nodes, String executor, ToIntFunction<ComputeNode> free) {
        ComputeNode best = null;
        int bestFree = 0;
        for (ComputeNode n : nodes) {
            if (executor != null && !n.executors().contains(executor)) continue;
            int f = free.applyAsInt(n);
            if (f > bestFree) {
                best = n;
                bestFree = f;
            }
        }
        return best;
    }

    static boolean anyNodeHas(List<ComputeNode> nodes, String executor) {
        return nodes.stream().anyMatch(n -> n.executors().contains(executor));
    }
}
