package dev.kiln.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The scheduler alone: snapshots in, placements out, no I/O, no clock, no threads. */
class SchedulerTest {
    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    private final Map<String, JobType> types = new java.util.HashMap<>(Map.of("default", JobType.defaults("default")));
    private final Scheduler scheduler = new Scheduler(types::get, t -> null, 256);
    private final ReadyQueue ready = new ReadyQueue(1_000_000);
    private long seq;

    /** A node that is only a snapshot: labels and free slots. */
    record Node(String id, int freeSlots, Map<String, String> labels) implements ComputeNode {
        public int capacity() {
            return freeSlots;
        }

        public Set<String> executors() {
            return Set.of("noop");
        }

        public String defaultExecutor() {
            return "noop";
        }

        public void execute(ExecutionRequest request, String executor, ExecutionListener listener) {
            throw new AssertionError("the scheduler never starts anything");
        }

        public void cancel(String executionId) {
        }

        public void onSlotFreed(Runnable listener) {
        }
    }

    private ReadyQueue.Waiting add(String... constraints) {
        seq++;
        JobSpec spec = new JobSpec("pass", null, Map.of(), "default", null, List.of(constraints));
        JobRecord job = new JobRecord("job-" + seq, seq, JobStatus.QUEUED, spec, "h", null, 0, 2, 0, null, T0, null,
                null, null);
        Instant readyAt = T0.plusMillis(seq);
        ReadyQueue.Waiting w = new ReadyQueue.Waiting(job, readyAt, null,
                spec.constraints().stream().map(LabelConstraint::parse).toList(), readyAt.plusSeconds(3600));
        ready.addAccepted(w);
        return w;
    }

    private Scheduler.Round round(ComputeNode... nodes) {
        return scheduler.round(ready.heads(256), List.of(nodes), n -> false);
    }

    private static List<String> placedIds(Scheduler.Round r) {
        return r.placed().stream().map(p -> p.waiting().job().id()).toList();
    }

    @Test
    void placesOldestFirstAcrossGroupsAndNeverOverCommits() {
        add();
        add("zone=a");
        add();
        add("zone=a");
        Node a = new Node("a", 3, Map.of("zone", "a"));
        Scheduler.Round r = round(a);
        assertThat(placedIds(r)).containsExactly("job-1", "job-2", "job-3");
        assertThat(r.placed()).allSatisfy(p -> assertThat(p.node()).isSameAs(a));
    }

    @Test
    void aHundredThousandJobsThatFitNowhereDoNotHoldUpOneThatFits() {
        for (int i = 0; i < 100_000; i++) add("gpu=true");
        add();
        Scheduler.Round r = round(new Node("a", 1, Map.of()));
        assertThat(placedIds(r)).containsExactly("job-100001");
        assertThat(r.reasons()).containsEntry(new ReadyQueue.PlacementClass("default", List.of("gpu=true")),
                "1 node, 0 match gpu=true");
    }

    @Test
    void aGroupThatFitsHasItsReasonCleared() {
        add("zone=a");
        Scheduler.Round r = round(new Node("a", 1, Map.of("zone", "a")));
        assertThat(r.reasons()).containsEntry(new ReadyQueue.PlacementClass("default", List.of("zone=a")), null);
    }

    @Test
    void constraintsInAnotherOrderAreTheSameGroup() {
        add("zone=a", "tier=gold");
        add("tier=gold", "zone=a");
        assertThat(ready.heads(10)).hasSize(1);
    }

    @Test
    void noFreeSlotPlacesNothingAndAsksNoNode() {
        add();
        Scheduler.Round r = round(new Node("a", 0, Map.of()));
        assertThat(r.placed()).isEmpty();
        assertThat(r.reasons()).isEmpty();
    }

    @Test
    void jobsOfATypeThatNoLongerExistsAreHandedBack() {
        types.put("gone", JobType.defaults("gone"));
        seq++;
        JobSpec spec = new JobSpec("pass", null, Map.of(), "gone", null, List.of());
        JobRecord job = new JobRecord("job-gone", seq, JobStatus.QUEUED, spec, "h", null, 0, 2, 0, null, T0, null,
                null, null);
        ready.addAccepted(new ReadyQueue.Waiting(job, T0, null, List.of(), T0.plusSeconds(60)));
        add();
        types.remove("gone");
        Scheduler.Round r = round(new Node("a", 4, Map.of()));
        assertThat(r.typeGone()).extracting(w -> w.job().id()).containsExactly("job-gone");
        assertThat(placedIds(r)).containsExactly("job-2");
    }

    @Test
    void spreadsOverTheNodesWithMostFreeSlots() {
        for (int i = 0; i < 4; i++) add();
        Node a = new Node("a", 3, Map.of());
        Node b = new Node("b", 1, Map.of());
        List<String> where = new ArrayList<>();
        round(a, b).placed().forEach(p -> where.add(p.node().id()));
        assertThat(where).containsExactlyInAnyOrder("a", "a", "a", "b");
    }

    @Test
    void expiredJobsLeaveTheQueueEarliestDeadlineFirstWithTheirGroupsReason() {
        ReadyQueue.Waiting first = add("gpu=true");
        ReadyQueue.Waiting second = add();
        ready.setReason(ReadyQueue.PlacementClass.of(first.job().spec()), "1 node, 0 match gpu=true");
        assertThat(ready.nextDeadline()).isEqualTo(first.queueDeadline());
        assertThat(ready.expired(first.queueDeadline().minusMillis(1))).isEmpty();
        List<ReadyQueue.Expired> gone = ready.expired(second.queueDeadline());
        assertThat(gone).extracting(e -> e.waiting().job().id()).containsExactly("job-1", "job-2");
        assertThat(gone.getFirst().reason()).isEqualTo("1 node, 0 match gpu=true");
        assertThat(ready.size()).isZero();
        assertThat(ready.nextDeadline()).isNull();
    }
}
