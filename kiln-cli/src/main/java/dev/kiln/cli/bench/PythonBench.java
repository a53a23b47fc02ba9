package dev.kiln.cli.bench;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import java.util.ArrayList;
import java.util.List;

/**
 * Sandboxed {@code print(1+1)} through the whole of Kiln (HTTP, store, dispatch, bwrap sandbox): submit-to-result
 * latency one job at a time, and jobs/s with every core busy.
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
        try (BenchServer kiln = BenchServer.start("bwrap", c -> c.withSlots(cores))) {
            JobRequest job = JobRequest.python(CODE);
            LoadRun.run(10, 1, () -> ok(kiln.client.execute(job)));
            Percentiles cold = LoadRun.run(o.pythonRuns(), 1, () -> ok(kiln.client.execute(job))).percentiles();
            figures.add(Figure.atMost(name(), "cold p50", cold.millis(50), "ms", 40));
            figures.add(Figure.info(name(), "cold p99", cold.millis(99), "ms", null));
            LoadRun busy = LoadRun.run(o.pythonBusyJobs(), 2 * cores, () -> ok(kiln.client.execute(job)));
            figures.add(Figure.info(name(), "jobs/s, all cores busy", busy.perSecond(), "jobs/s",
                    2 * cores + " clients, " + cores + " slots"));
            figures.add(Figure.atMost(name(), "failed jobs", busy.failures, "jobs", 0));
        }
        return figures;
    }

    static boolean ok(JobResponse r) {
        return r.success() && "2\n".equals(r.stdout());
    }
}
