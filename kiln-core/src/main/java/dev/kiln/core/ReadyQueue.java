package dev.kiln.core;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Jobs waiting for a node, bounded by {@code max_queue_size}. A submitter first reserves a place (so a full queue is
 * refused before anything is written), then adds the stored job.
 *
 * <p>Jobs are grouped by what placement looks at ({@link PlacementClass}: job type and constraints), each group in the
 * order its jobs became ready. Every job of a group fits exactly the nodes its first job fits, so the scheduler asks
 * once per group and round: thousands of jobs no node can take cost one question, and never hold up a job that fits.
 * Each job also has a queue deadline; {@link #expired} hands back those past it.
 */
final class ReadyQueue {
    /**
     * A waiting job: when it became ready, the node it was lost on (or null), its constraints parsed once, when it
     * stops waiting ({@code queue_timeout}), and whether it came from another replica ({@code foreign}: that
     * replica places it first; this one takes it only once it has waited {@link #STEAL_DELAY}).
     */
    record Waiting(JobRecord job, Instant readyAt, String avoidNodeId, List<LabelConstraint> constraints,
                   Instant queueDeadline, boolean foreign) {
        Waiting(JobRecord job, Instant readyAt, String avoidNodeId, List<LabelConstraint> constraints,
                Instant queueDeadline) {
            this(job, readyAt, avoidNodeId, constraints, queueDeadline, false);
        }
    }

    /**
     * How long a job submitted through another replica waits for that replica before this one takes it: replicas
     * do not all race for the same jobs (the loser of a claim wastes a round), yet a replica without nodes holds up
     * nothing for long.
     */
    static final java.time.Duration STEAL_DELAY = java.time.Duration.ofMillis(250);

    /** What placement needs to know of a job; equal keys fit the same nodes. */
    record PlacementClass(String jobType, List<String> constraints) {
        static PlacementClass of(JobSpec spec) {
            return new PlacementClass(spec.jobType(), spec.constraints().stream().sorted().toList());
        }
    }

    /** A group's first jobs, oldest first, as the scheduler sees them in one round. */
    record Group(PlacementClass key, List<Waiting> head) {
    }

    private static final Comparator<Waiting> BY_DEADLINE = Comparator.comparing(Waiting::queueDeadline)
            .thenComparingLong(w -> w.job().seq()).thenComparing(w -> w.job().id());

    private final int capacity;
    private final Map<PlacementClass, LinkedHashMap<String, Waiting>> groups = new LinkedHashMap<>();
    private final Map<String, Waiting> byId = new HashMap<>();
    private final Map<PlacementClass, String> reasons = new HashMap<>();
    private final TreeSet<Waiting> deadlines = new TreeSet<>(BY_DEADLINE);
    private int reserved;
    private int foreign;

    ReadyQueue(int capacity) {
        this.capacity = capacity;
    }

    synchronized boolean tryReserve() {
        if (byId.size() + reserved >= capacity) return false;
        reserved++;
        return true;
    }

    synchronized void cancelReservation() {
        reserved--;
    }

    synchronized void addReserved(Waiting w) {
        reserved--;
        put(w);
    }

    /** Jobs found queued at start-up or re-queued: they were accepted before, so they are never refused. */
    synchronized void addAccepted(Waiting w) {
        put(w);
    }

    private void put(Waiting w) {
        Waiting old = byId.put(w.job().id(), w);
        if (old != null) unlink(old);
        if (w.foreign()) foreign++;
        groups.computeIfAbsent(PlacementClass.of(w.job().spec()), k -> new LinkedHashMap<>()).put(w.job().id(), w);
        deadlines.add(w);
    }

    /** Every group's first {@code perGroup} jobs (copies: the queue may change while a round is placed). */
    synchronized List<Group> heads(int perGroup) {
        return heads(perGroup, null);
    }

    /**
     * As {@link #heads(int)}, leaving out other replicas' jobs that have waited less than {@link #STEAL_DELAY} at
     * {@code now} (null: none left out).
     */
    synchronized List<Group> heads(int perGroup, Instant now) {
        Instant stealBefore = now == null || foreign == 0 ? null : now.minus(STEAL_DELAY);
        List<Group> out = new ArrayList<>(groups.size());
        for (var e : groups.entrySet()) {
            List<Waiting> head = new ArrayList<>(Math.min(perGroup, e.getValue().size()));
            for (Waiting w : e.getValue().values()) {
                if (head.size() == perGroup) break;
                if (stealBefore != null && w.foreign() && w.readyAt().isAfter(stealBefore)) continue;
                head.add(w);
            }
            if (!head.isEmpty()) out.add(new Group(e.getKey(), head));
        }
        return out;
    }

    synchronized boolean contains(String jobId) {
        return byId.containsKey(jobId);
    }

    /** Whether jobs of other replicas wait here (the dispatcher then wakes to take those that waited long enough). */
    synchronized boolean hasForeign() {
        return foreign > 0;
    }

    synchronized boolean remove(String jobId) {
        Waiting w = byId.remove(jobId);
        if (w == null) return false;
        unlink(w);
        return true;
    }

    private void unlink(Waiting w) {
        deadlines.remove(w);
        if (w.foreign()) foreign--;
        PlacementClass key = PlacementClass.of(w.job().spec());
        LinkedHashMap<String, Waiting> group = groups.get(key);
        if (group == null) return;
        group.remove(w.job().id(), w);
        if (group.isEmpty()) {
            groups.remove(key);
            reasons.remove(key);
        }
    }

    /** A job taken out past its queue deadline, with why its group was waiting (null: not said yet). */
    record Expired(Waiting waiting, String reason) {
    }

    /** Removes and returns the jobs whose queue deadline is at or before {@code now}, earliest first. */
    synchronized List<Expired> expired(Instant now) {
        List<Expired> out = new ArrayList<>();
        while (!deadlines.isEmpty() && !deadlines.first().queueDeadline().isAfter(now)) {
            Waiting w = deadlines.first();
            String reason = reasons.get(PlacementClass.of(w.job().spec()));
            byId.remove(w.job().id());
            unlink(w);
            out.add(new Expired(w, reason));
        }
        return out;
    }

    /** The earliest queue deadline, or null when nothing waits. */
    synchronized Instant nextDeadline() {
        return deadlines.isEmpty() ? null : deadlines.first().queueDeadline();
    }

    /** Why the jobs of a group wait (null: it fits, or was not tried yet). */
    synchronized void setReason(PlacementClass key, String reason) {
        if (!groups.containsKey(key)) return;
        if (reason == null) reasons.remove(key); else reasons.put(key, reason);
    }

    synchronized String reason(String jobId) {
        Waiting w = byId.get(jobId);
        return w == null ? null : reasons.get(PlacementClass.of(w.job().spec()));
    }

    synchronized int size() {
        return byId.size();
    }
}
