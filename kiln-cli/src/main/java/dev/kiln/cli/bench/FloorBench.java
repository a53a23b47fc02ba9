package dev.kiln.cli.bench;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.node.WorkRoots;
import dev.kiln.sandbox.BwrapConfig;
import dev.kiln.sandbox.BwrapExecutor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The machine's limit: the same sandbox Kiln uses (bwrap, cgroup, tmpfs /output, Python) spawned directly in a loop
 * by the executor, with no HTTP, store, queue or dispatch. Kiln's Python figures are shown as a ratio of it.
 */
final class FloorBench implements Bench {
    @Override
    public String name() {
        return "floor";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws Exception {
        int cores = Runtime.getRuntime().availableProcessors();
        Path dir = Files.createTempDirectory("kiln-floor-");
        Path root = WorkRoots.sandboxVisibleRoot(dir);
        AtomicInteger seq = new AtomicInteger();
        try (BwrapExecutor executor = new BwrapExecutor(BwrapConfig.defaults()
                .withCgroupParent("kiln-floor-" + UUID.randomUUID().toString().substring(0, 8)))) {
            JobType type = JobType.defaults("default");
            java.util.function.BooleanSupplier once = () -> {
                String id = "floor-" + seq.incrementAndGet();
                Path work = root.resolve(id);
                try {
                    Files.createDirectories(work);
                    ExecutionResult r = executor.execute(new ExecutionRequest(id, id, 1,
                            JobSpec.python(PythonBench.CODE), type, 30, OutputLimits.DEFAULTS), work);
                    return r.status() == JobStatus.SUCCEEDED && r.stdout().equals("2\n");
                } catch (java.io.IOException e) {
                    return false;
                } finally {
                    deleteTree(work);
                }
            };
            LoadRun.run(10, 1, once);
            Percentiles seqRun = LoadRun.run(o.floorRuns(), 1, once).percentiles();
            LoadRun busy = LoadRun.run(o.pythonBusyJobs(), cores, once);
            return List.of(
                    Figure.info(name(), "sandbox p50", seqRun.millis(50), "ms", "executor only, one at a time"),
                    Figure.info(name(), "sandbox p99", seqRun.millis(99), "ms", null),
                    Figure.info(name(), "jobs/s, all cores busy", busy.perSecond(), "jobs/s", cores + " loops"));
        } finally {
            deleteTree(dir);
            if (!root.startsWith(dir)) deleteTree(root);
        }
    }

    private static void deleteTree(Path p) {
        if (!Files.exists(p)) return;
        try (var paths = Files.walk(p)) {
            paths.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
