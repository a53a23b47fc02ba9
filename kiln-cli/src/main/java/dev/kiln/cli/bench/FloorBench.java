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
import dev.kiln.sandbox.PoolSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The machine's limit: the same sandbox Kiln uses (bwrap, cgroup, tmpfs /output, Python) spawned directly in a loop
 * by the executor, with no HTTP, store, queue or dispatch. Kiln's Python figures are shown as a ratio of it. Also
 * the executor's own warm latency: a pooled sandbox taken when one is ready.
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
        Path warmRoot = Files.createDirectories(root.resolve("warm"));
        try (BwrapExecutor executor = new BwrapExecutor(BwrapConfig.defaults()
                .withCgroupParent(BwrapConfig.throwAwayCgroupParent("kiln-floor")), null, warmRoot)) {
            JobType type = JobType.defaults("default");
            JobType pooled = JobType.defaults("pooled");
            executor.configurePool(pooled, null, PoolSettings.of(1));
            java.util.function.Predicate<JobType> run = t -> {
                String id = "floor-" + seq.incrementAndGet();
                Path work = root.resolve(id);
                try {
                    Files.createDirectories(work);
                    ExecutionResult r = executor.execute(new ExecutionRequest(id, id, 1,
                            JobSpec.python(PythonBench.CODE), t, 30, OutputLimits.DEFAULTS), work);
                    return r.status() == JobStatus.SUCCEEDED && r.stdout().equals("2\n");
                } catch (java.io.IOException e) {
                    return false;
                } finally {
                    deleteTree(work);
                }
            };
            java.util.function.BooleanSupplier once = () -> run.test(type);
            LoadRun.run(10, 1, once);
            Percentiles seqRun = LoadRun.run(o.floorRuns(), 1, once).percentiles();
            LoadRun busy = LoadRun.run(o.pythonBusyJobs(), cores, once);
            long[] warm = new long[o.floorRuns()];
            for (int i = -10; i < warm.length; i++) { // 10 unmeasured rounds first
                awaitWarm(executor); // not measured: warm means a pooled sandbox is waiting
                long t0 = System.nanoTime();
                if (!run.test(pooled)) throw new IllegalStateException("warm print(1+1) failed");
                if (i >= 0) warm[i] = System.nanoTime() - t0;
            }
            Percentiles warmRun = new Percentiles(warm);
            return List.of(
                    Figure.info(name(), "sandbox p50", seqRun.millis(50), "ms", "executor only, one at a time"),
                    Figure.info(name(), "sandbox p99", seqRun.millis(99), "ms", null),
                    Figure.info(name(), "warm sandbox p50", warmRun.millis(50), "ms", "executor only, pooled"),
                    Figure.info(name(), "warm sandbox p99", warmRun.millis(99), "ms", null),
                    Figure.info(name(), "jobs/s, all cores busy", busy.perSecond(), "jobs/s", cores + " loops"));
        } finally {
            deleteTree(dir);
            if (!root.startsWith(dir)) deleteTree(root);
        }
    }

    private static void awaitWarm(BwrapExecutor executor) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        try {
            while (System.nanoTime() < deadline
                    && executor.poolStats().stream().noneMatch(s -> s.jobType().equals("pooled") && s.ready() > 0)) {
                Thread.sleep(1);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void deleteTree(Path p) {
        try {
            dev.kiln.sandbox.FileTrees.deleteRecursively(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
