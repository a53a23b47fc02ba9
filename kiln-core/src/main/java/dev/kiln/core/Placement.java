package dev.kiln.core;

import java.util.List;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;

/**
 * Chooses the node for an execution: among connected nodes whose labels satisfy the job's constraints, that offer
 * the executor and the job type and have a free slot, the one with most free slots (spreading load), preferring any
 * node over the one a re-queued job was lost on. When none qualifies it says why.
 */
public final class Placement {
    /** A node, or (node null) a readable reason such as "3 nodes, 0 match gpu=true". */
    public record Decision(ComputeNode node, String reason) {
    }

    /** What one job needs: {@code executor} null means each node's default; {@code avoidNodeId} may be null. */
    public record Need(String jobType, String executor, List<LabelConstraint> constraints, String avoidNodeId) {
    }

    private Placement() {
    }

    /**
     * {@code free} gives the free slots to count with (the dispatcher's view while it places a round); draining
     * nodes take no new work.
     */
    public static Decision place(List<ComputeNode> nodes, Need need, ToIntFunction<ComputeNode> free,
                                 Predicate<ComputeNode> draining) {
        ComputeNode best = null;
        ComputeNode avoided = null;
        int bestFree = 0;
        int matching = 0;
        int withExecutor = 0;
        int withType = 0;
        int drained = 0;
        int disconnected = 0;
        for (ComputeNode n : nodes) {
            if (!need.constraints().isEmpty() && !satisfies(n, need.constraints())) continue;
            matching++;
            if (need.executor() != null && !n.executors().contains(need.executor())) continue;
            withExecutor++;
            if (!n.offersJobType(need.jobType())) continue;
            withType++;
            if (!n.connected()) {
                disconnected++;
                continue;
            }
            if (draining.test(n)) {
                drained++;
                continue;
            }
            int f = free.applyAsInt(n);
            if (f <= 0) continue;
            if (n.id().equals(need.avoidNodeId())) {
                avoided = n;
            } else if (f > bestFree) {
                best = n;
                bestFree = f;
            }
        }
        if (best == null) best = avoided;
        if (best != null) return new Decision(best, null);
        StringBuilder why = new StringBuilder().append(nodes.size()).append(nodes.size() == 1 ? " node" : " nodes");
        if (!need.constraints().isEmpty()) {
            why.append(", ").append(matching).append(" match ").append(String.join(" and ",
                    need.constraints().stream().map(LabelConstraint::toString).toList()));
        }
        if (need.executor() != null && withExecutor < matching) {
            why.append(", ").append(withExecutor).append(" with executor ").append(need.executor());
        }
        if (withType < withExecutor) why.append(", ").append(withType).append(" offer job type ").append(need.jobType());
        if (disconnected > 0) why.append(", ").append(disconnected).append(" disconnected");
        if (drained > 0) why.append(", ").append(drained).append(" draining");
        if (withType > drained + disconnected) why.append(", none with a free slot");
        return new Decision(null, why.toString());
    }

    private static boolean satisfies(ComputeNode n, List<LabelConstraint> constraints) {
        for (LabelConstraint c : constraints) if (!c.matches(n.labels())) return false;
        return true;
    }
}
