package dev.kiln.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Turns a snapshot (the ready queue's groups, the nodes and their free slots) into one round of placements. No I/O
 * and no clock: the same snapshot always gives the same round.
 *
 * <p>Jobs are taken oldest first across groups. A group whose oldest job fits no node is set aside for the round
 * with the reason, since its other jobs need exactly the same; the groups behind it go on. Free slots are counted
 * down locally, so a round never over-commits a node.
 */
final class Scheduler {
    /** One job to start: its type, the node chosen and the executor it runs with. */
    record Placed(ReadyQueue.Waiting waiting, JobType type, ComputeNode node, String executor) {
    }

    /**
     * A round: what to start, the jobs whose type no longer exists (to be failed), and why each group that was set
     * aside waits (a null reason: the group fitted).
     */
    record Round(List<Placed> placed, List<ReadyQueue.Waiting> typeGone,
                 Map<ReadyQueue.PlacementClass, String> reasons) {
    }

    private final Function<String, JobType> jobTypes;
    private final Function<JobType, String> explicitExecutor;
    private final int maxRound;

    /**
     * @param jobTypes         a type by name, or null when it no longer exists
     * @param explicitExecutor the executor a type must run with, or null for each node's default
     */
    Scheduler(Function<String, JobType> jobTypes, Function<JobType, String> explicitExecutor, int maxRound) {
        this.jobTypes = jobTypes;
        this.explicitExecutor = explicitExecutor;
        this.maxRound = maxRound;
    }

    private static final class Cursor {
        final ReadyQueue.Group group;
        int next;

        Cursor(ReadyQueue.Group group) {
            this.group = group;
        }

        ReadyQueue.Waiting current() {
            return group.head().get(next);
        }
    }

    private static final Comparator<Cursor> OLDEST_FIRST = Comparator
            .comparing((Cursor c) -> c.current().readyAt())
            .thenComparingLong(c -> c.current().job().seq());

    Round round(List<ReadyQueue.Group> groups, List<ComputeNode> nodes, Predicate<ComputeNode> draining) {
        Map<ComputeNode, Integer> free = new IdentityHashMap<>();
        int totalFree = 0;
        for (ComputeNode n : nodes) {
            int f = Math.max(0, n.freeSlots());
            free.put(n, f);
            totalFree += f;
        }
        List<Placed> placed = new ArrayList<>();
        List<ReadyQueue.Waiting> typeGone = new ArrayList<>();
        Map<ReadyQueue.PlacementClass, String> reasons = new LinkedHashMap<>();
        if (totalFree == 0) return new Round(placed, typeGone, reasons); // a freed slot signals the dispatcher
        // Free slots per node and job type, for nodes that cap a type; counted down as the round places jobs.
        Map<String, Integer> typeFree = new HashMap<>();
        PriorityQueue<Cursor> queue = new PriorityQueue<>(OLDEST_FIRST);
        for (ReadyQueue.Group g : groups) if (!g.head().isEmpty()) queue.add(new Cursor(g));
        while (!queue.isEmpty() && placed.size() < maxRound && totalFree > 0) {
            Cursor c = queue.poll();
            ReadyQueue.Waiting w = c.current();
            JobType type = jobTypes.apply(w.job().spec().jobType());
            if (type == null) {
                typeGone.addAll(c.group.head().subList(c.next, c.group.head().size()));
                continue;
            }
            String executor = explicitExecutor.apply(type);
            Placement.Decision d = Placement.place(nodes, new Placement.Need(type.name(), executor, w.constraints(),
                    w.avoidNodeId()), n -> freeFor(n, type.name(), free, typeFree), draining);
            if (d.node() == null) {
                reasons.put(c.group.key(), d.reason()); // the group waits; the groups behind it may still fit
                continue;
            }
            reasons.put(c.group.key(), null);
            free.merge(d.node(), -1, Integer::sum);
            totalFree--;
            if (d.node().capsJobType(type.name())) typeFree.merge(d.node().id() + "\n" + type.name(), -1, Integer::sum);
            placed.add(new Placed(w, type, d.node(), executor != null ? executor : d.node().defaultExecutor()));
            if (++c.next < c.group.head().size()) queue.add(c);
        }
        return new Round(placed, typeGone, reasons);
    }

    /** A node's free slots in this round, for one more job of the type (capped types counted apart). */
    private static int freeFor(ComputeNode n, String type, Map<ComputeNode, Integer> free,
                               Map<String, Integer> typeFree) {
        int f = free.getOrDefault(n, 0);
        if (f == 0 || !n.capsJobType(type)) return f;
        return Math.min(f, typeFree.computeIfAbsent(n.id() + "\n" + type, k -> n.freeSlotsFor(type)));
    }
}
