package dev.kiln.core;

import java.util.List;

/** Chooses the node for an execution: among nodes with the executor and a free slot, the one with most free slots. */
public final class Placement {
    private Placement() {
    }

    public static ComputeNode pick(List<ComputeNode> nodes, String executor) {
        ComputeNode best = null;
        int bestFree = 0;
        for (ComputeNode n : nodes) {
            if (!n.executors().contains(executor)) continue;
            int free = n.freeSlots();
            if (free > bestFree) {
                best = n;
                bestFree = free;
            }
        }
        return best;
    }

    static boolean anyNodeHas(List<ComputeNode> nodes, String executor) {
        return nodes.stream().anyMatch(n -> n.executors().contains(executor));
    }
}
