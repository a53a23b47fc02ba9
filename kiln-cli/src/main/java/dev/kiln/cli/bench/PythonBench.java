package dev.kiln.cli.bench;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.core.JobType;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.WarmPoolSpec;
import dev.kiln.sandbox.WarmPoolStats;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Sandboxed {@code print(1+1)} through the whole of Kiln (HTTP, store, dispatch, bwrap sandbox): submit-to-result
 * latency one job at a time, warm (a pooled sandbox is ready) and cold (type {@code cold}, pool_size 0), and jobs/s
 * with every core busy on the default, pooled configuration.
 */
final class PythonBench implements Bench {
    static final String CODE = "print(1+1)";

    @Override
    public String name() {
        return "python";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws Exception {
        List<Figure> figures = new ArrayList<>();
        int cores = Runtime.getRuntime().availableProcessors();
        JobType defaults = JobType.defaults("cold");
        JobType cold = new JobType("cold", defaults.memoryLimitBytes(), defaults.cpuLimit(), defaults.timeoutSeconds(),
                defaults.maxTimeoutSeconds(), defaults.pidsLimit(), false, Map.of(), null, defaults.maxOutputBytes(),
                defaults.tmpSizeBytes(), PackageSpec.NONE, new WarmPoolSpec(0, 1, 600));
        try (BenchServer kiln = BenchServer.start("bwrap", c -> c.withSlots(cores).withJobTypes(List.of(cold)))) {
            JobRequest warmJob = JobRequest.python(CODE);
            JobRequest coldJob = warmJob.withJobType("cold");
            LoadRun.run(10, 1, () -> ok(kiln.client.execute(coldJob)));
            Percentiles coldRun = LoadRun.run(o.pythonRuns(), 1, () -> ok(kiln.client.execute(coldJob)))
                    .percentiles();
            measureWarm(kiln, warmJob, 10);
            long hitsBefore = hits(kiln);
            Percentiles warmRun = measureWarm(kiln, warmJob, o.pythonRuns());
            long warmHits = hits(kiln) - hitsBefore;
            figures.add(Figure.atMost(name(), "warm p50", warmRun.millis(50), "ms", 10)
                    .withNote(warmHits + " of " + o.pythonRuns() + " served warm"));
            figures.add(Figure.info(name(), "warm p99", warmRun.millis(99), "ms", null));
            figures.add(Figure.atMost(name(), "cold p50", coldRun.millis(50), "ms", 40));
            figures.add(Figure.info(name(), "cold p99", coldRun.millis(99), "ms", null));
            LoadRun busy = LoadRun.run(o.pythonBusyJobs(), 2 * cores, () -> ok(kiln.client.execute(warmJob)));
            figures.add(Figure.info(name(), "jobs/s, all cores busy", busy.perSecond(), "jobs/s",
                    2 * cores + " clients, " + cores + " slots, pooled"));
            figures.add(Figure.atMost(name(), "failed jobs", busy.failures, "jobs", 0));
        }
        return figures;
    }

    /** One job at a time, each started once a pooled sandbox is ready (the wait is not measured). */
    private static Percentiles measureWarm(BenchServer kiln, JobRequest job, int runs) {
        long[] latencies = new long[runs];
        for (int i = 0; i < runs; i++) {
            awaitReady(kiln);
            long t0 = System.nanoTime();
            JobResponse r = kiln.client.execute(job);
            latencies[i] = System.nanoTime() - t0;
            if (!ok(r)) throw new IllegalStateException("warm print(1+1) failed: " + r.status() + " " + r.error());
        }
        return new Percentiles(latencies);
    }

    private static void awaitReady(BenchServer kiln) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        try {
            while (System.nanoTime() < deadline && pool(kiln).ready() == 0) Thread.sleep(1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static WarmPoolStats pool(BenchServer kiln) {
        return kiln.server.poolStats().stream().filter(s -> s.jobType().equals("default")).findFirst()
                .orElseThrow(() -> new IllegalStateException("no warm pool for the default type"));
    }

    private static long hits(BenchServer kiln) {
        return pool(kiln).hits();
    }

    static boolean ok(JobResponse r) {
        return r.success() && "2\n".equals(r.stdout());
    }
}
