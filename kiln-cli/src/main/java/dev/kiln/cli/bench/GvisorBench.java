package dev.kiln.cli.bench;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.Executor;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.node.WorkRoots;
import dev.kiln.sandbox.BwrapConfig;
import dev.kiln.sandbox.BwrapExecutor;
import dev.kiln.sandbox.GvisorExecutor;
import dev.kiln.sandbox.RunscPlatform;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * gVisor beside bwrap in the same run, each executor spawning cold sandboxes for {@code print(1+1)} directly (no
 * HTTP, store or dispatch, like {@link FloorBench}): cold start p50/p99 and jobs/s with every core busy, and gVisor's
 * figures as ratios to bwrap's (the floor). Skips, with one figure saying why, where runsc is not installed.
 */
final class GvisorBench implements Bench {
    @Override
    public String name() {
        return "gvisor";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws Exception {
        if (!RunscPlatform.installed(RunscPlatform.DEFAULT_RUNSC)) {
            return List.of(Figure.info(name(), "skipped", Double.NaN, "", RunscPlatform.RUNSC_MISSING));
        }
        int cores = Runtime.getRuntime().availableProcessors();
        int busyJobs = Math.max(cores, o.pythonBusyJobs() / 3);
        Path dir = Files.createTempDirectory("kiln-gvisor-bench-");
        Path root = WorkRoots.sandboxVisibleRoot(dir);
        BwrapConfig config = BwrapConfig.defaults().withCgroupParent(BwrapConfig.throwAwayCgroupParent("kiln-gvb"));
        List<Figure> figures = new ArrayList<>();
        try (BwrapExecutor bwrap = new BwrapExecutor(config);
             GvisorExecutor gvisor = new GvisorExecutor(config, null)) {
            BooleanSupplier bwrapJob = job(bwrap, root);
            BooleanSupplier gvisorJob = job(gvisor, root);
            LoadRun.run(5, 1, bwrapJob); // unmeasured: page cache, JIT
            LoadRun.run(5, 1, gvisorJob);
            // one of each in turn, so both see the same load on a shared machine
            long[] bwrapCold = new long[o.floorRuns()];
            long[] gvisorCold = new long[o.floorRuns()];
            for (int i = 0; i < o.floorRuns(); i++) {
                bwrapCold[i] = timed(bwrapJob);
                gvisorCold[i] = timed(gvisorJob);
            }
            // the busy phase too, in alternating rounds
            Busy bwrapBusy = new Busy();
            Busy gvisorBusy = new Busy();
            int rounds = 4;
            for (int i = 0; i < rounds; i++) {
                bwrapBusy.add(LoadRun.run(Math.max(cores, busyJobs / rounds), cores, bwrapJob));
                gvisorBusy.add(LoadRun.run(Math.max(cores, busyJobs / rounds), cores, gvisorJob));
            }
            Measured b = new Measured(new Percentiles(bwrapCold), bwrapBusy);
            Measured g = new Measured(new Percentiles(gvisorCold), gvisorBusy);
            String platform = "platform " + gvisor.platform().platform();
            figures.add(Figure.info(name(), "bwrap cold p50", b.cold.millis(50), "ms",
                    "executor only, one at a time, alternating with gvisor"));
            figures.add(Figure.info(name(), "bwrap cold p99", b.cold.millis(99), "ms", null));
            figures.add(Figure.info(name(), "gvisor cold p50", g.cold.millis(50), "ms", platform));
            figures.add(Figure.info(name(), "gvisor cold p99", g.cold.millis(99), "ms", null));
            figures.add(Figure.info(name(), "gvisor ÷ bwrap cold p50", g.cold.millis(50) / b.cold.millis(50),
                    "ratio", null));
            figures.add(Figure.info(name(), "gvisor ÷ bwrap cold p99", g.cold.millis(99) / b.cold.millis(99),
                    "ratio", null));
            String busyNote = cores + " slots, cold, 4 rounds alternating";
            figures.add(Figure.info(name(), "bwrap jobs/s", b.busy.perSecond(), "jobs/s", busyNote));
            figures.add(Figure.info(name(), "gvisor jobs/s", g.busy.perSecond(), "jobs/s", busyNote));
            figures.add(Figure.info(name(), "gvisor ÷ bwrap jobs/s", g.busy.perSecond() / b.busy.perSecond(),
                    "ratio", null));
            figures.add(Figure.atMost(name(), "failed jobs", b.busy.failures + g.busy.failures, "jobs", 0));
        } finally {
            dev.kiln.sandbox.FileTrees.deleteRecursively(dir);
            if (!root.startsWith(dir)) dev.kiln.sandbox.FileTrees.deleteRecursively(root);
        }
        return figures;
    }

    private record Measured(Percentiles cold, Busy busy) {
    }

    /** Jobs and seconds summed over the rounds of the busy phase. */
    private static final class Busy {
        long jobs;
        long failures;
        double seconds;

        void add(LoadRun run) {
            jobs += run.latencies.length;
            failures += run.failures;
            seconds += run.seconds;
        }

        double perSecond() {
            return seconds > 0 ? jobs / seconds : Double.NaN;
        }
    }

    /** Nanoseconds of one successful job; a failed one fails the bench. */
    private static long timed(BooleanSupplier job) {
        long t0 = System.nanoTime();
        if (!job.getAsBoolean()) throw new IllegalStateException("a cold print(1+1) failed");
        return System.nanoTime() - t0;
    }

    /** One cold {@code print(1+1)} on {@code executor} in a fresh work dir; true when it printed 2. */
    private static BooleanSupplier job(Executor executor, Path root) {
        AtomicInteger seq = new AtomicInteger();
        JobType type = JobType.defaults("default");
        return () -> {
            String id = executor.name() + "-" + seq.incrementAndGet();
            Path work = root.resolve(id);
            try {
                Files.createDirectories(work);
                ExecutionResult r = executor.execute(new ExecutionRequest(id, id, 1, JobSpec.python(PythonBench.CODE),
                        type, 30, OutputLimits.DEFAULTS), work);
                return r.status() == JobStatus.SUCCEEDED && r.stdout().equals("2\n");
            } catch (java.io.IOException e) {
                return false;
            } finally {
                try {
                    dev.kiln.sandbox.FileTrees.deleteRecursively(work);
                } catch (java.io.IOException ignored) {
                    // the bench's temp dir goes at the end anyway
                }
            }
        };
    }
}
