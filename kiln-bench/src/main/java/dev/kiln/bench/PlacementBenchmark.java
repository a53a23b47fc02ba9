package dev.kiln.bench;

import dev.kiln.core.ComputeNode;
import dev.kiln.core.ExecutionListener;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.LabelConstraint;
import dev.kiln.core.Placement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** Choosing a node among N as the dispatcher does: a label constraint, an executor, no draining node. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class PlacementBenchmark {
    @Param({"1", "100", "1000"})
    int nodes;

    private List<ComputeNode> cluster;

    /** A node description only: placement reads capacity and executors, nothing runs. */
    private record NodeView(String id, int capacity, int freeSlots, Set<String> executors) implements ComputeNode {
        @Override
        public java.util.Map<String, String> labels() {
            return java.util.Map.of("zone", id.endsWith("0") ? "a" : "b");
        }

        @Override
        public String defaultExecutor() {
            return "bwrap";
        }

        @Override
        public void execute(ExecutionRequest request, String executor, ExecutionListener listener) {
            throw new UnsupportedOperationException("placement benchmark");
        }

        @Override
        public void cancel(String executionId) {
        }

        @Override
        public void onSlotFreed(Runnable listener) {
        }
    }

    @Setup
    public void setUp() {
        cluster = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            cluster.add(new NodeView("node-" + i, 8, i % 9, i % 3 == 0 ? Set.of("noop") : Set.of("bwrap", "noop")));
        }
    }

    private final Placement.Need bwrapInZoneB = new Placement.Need("default", "bwrap",
            List.of(LabelConstraint.parse("zone=b")), null);

    @Benchmark
    public Placement.Decision placeBwrapJobInZoneB() {
        return Placement.place(cluster, bwrapInZoneB, ComputeNode::freeSlots, n -> false);
    }
}
