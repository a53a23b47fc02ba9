package dev.kiln.cli.bench;

import java.util.List;

/** Jobs/s end to end over HTTP (POST /execute) with the durable embedded store; the noop executor runs no code. */
final class NoopBench implements Bench {
    static final double GOAL_JOBS_PER_SECOND = 5_000;

    private static final String SUCCESS = "\"success\":true";

    @Override
    public String name() {
        return "noop";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws Exception {
        try (BenchServer kiln = BenchServer.start("noop", c -> c.withSlots(256))) {
            KeepAliveHttp http = kiln.loadClient();
            byte[] job = http.preparePost("/execute", "{\"code\": \"pass\"}");
            LoadRun.run(Math.min(1_000, o.noopJobs()), o.noopClients(), () -> http.send(job, SUCCESS));
            LoadRun run = LoadRun.run(o.noopJobs(), o.noopClients(), () -> http.send(job, SUCCESS));
            Percentiles p = run.percentiles();
            return List.of(
                    Figure.atLeast(name(), "jobs/s (" + o.noopClients() + " clients)", run.perSecond(), "jobs/s",
                            GOAL_JOBS_PER_SECOND),
                    Figure.info(name(), "latency p50", p.millis(50), "ms", null),
                    Figure.info(name(), "latency p99", p.millis(99), "ms", null),
                    Figure.atMost(name(), "failed jobs", run.failures, "jobs", 0));
        }
    }
}
