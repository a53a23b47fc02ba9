package dev.kiln.core;

import java.util.List;
import java.util.function.ToIntFunction;

/**
 * Chooses the node for an execution: among nodes whose labels satisfy the job's constraints, that have the
 * executor and a free slot, the one with most free slots (spreading load). When none qualifies it says why.
 */
public final class Placement {
    /** A node, or (node null) a readable reason such as "3 nodes, 0 match gpu=true". */
    public record Decision(ComputeNode node, String reason) {
    }

    private Placement() {
    }

    /**
     * {@code executor} null means each node's default; {@code free} gives the free slots to count with (the
     * dispatcher's view while it places a round); draining nodes take no new work.
     */
    public static Decision place(List<ComputeNode> nodes, String executor, List<LabelConstraint> constraints,
                                 ToIntFunction<ComputeNode> free, java.util.function.Predicate<ComputeNode> draining) {
        ComputeNode best = null;
        int bestFree = 0;
        int matching = 0;
        int withExecutor = 0;
        int drained = 0;
        for (ComputeNode n : nodes) {
            if (!constraints.isEmpty() && !satisfies(n, constraints)) continue;
            matching++;
            if (executor != null && !n.executors().contains(executor)) continue;
            withExecutor++;
            if (draining.test(n)) {
                drained++;
                continue;
            }
            int f = free.applyAsInt(n);
            if (f > bestFree) {
                best = n;
                bestFree = f;
            }
        }
        if (best != null) return new Decision(best, null);
        StringBuilder why = new StringBuilder().append(nodes.size()).append(nodes.size() == 1 ? " node" : " nodes");
        if (!constraints.isEmpty()) {
            why.append(", ").append(matching).append(" match ")
                    .append(String.join(" and ", constraints.stream().map(LabelConstraint::toString).toList()));
        }
        if (executor != null && withExecutor < matching) {
            why.append(", ").append(withExecutor).append(" with executor ").append(executor);
        }
        if (drained > 0) why.append(", ").append(drained).append(" draining");
        if (withExecutor > drained) why.append(", none with a free slot");
        return new Decision(null, why.toString());
    }

    private static boolean satisfies(ComputeNode n, List<LabelConstraint> constraints) {
        for (LabelConstraint c : constraints) if (!c.matches(n.labels())) return false;
        return true;
    }
}
