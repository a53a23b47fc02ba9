package dev.kiln.cli.bench;

import java.util.List;

/** Bacalhau's scaling test: 10,000 noop jobs at concurrency 10, submit to result; average and p99, success. */
final class BacalhauBench implements Bench {
    private static final String SUCCESS = "\"success\":true";

    @Override
    public String name() {
        return "bacalhau";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws Exception {
        try (BenchServer kiln = BenchServer.start("noop", c -> c.withSlots(64))) {
            KeepAliveHttp http = kiln.loadClient();
            byte[] job = http.preparePost("/execute", "{\"code\": \"pass\"}");
            LoadRun.run(500, o.bacalhauConcurrency(), () -> http.send(job, SUCCESS));
            LoadRun run = LoadRun.run(o.bacalhauJobs(), o.bacalhauConcurrency(),
                    () -> http.send(job, SUCCESS));
            Percentiles p = run.percentiles();
            double successPercent = 100.0 * (o.bacalhauJobs() - run.failures) / o.bacalhauJobs();
            return List.of(
                    Figure.atMost(name(), "average latency", p.meanMillis(), "ms", 5),
                    Figure.info(name(), "p99 latency", p.millis(99), "ms", null),
                    Figure.atLeast(name(), "success", successPercent, "%", 100)
                            .withNote((o.bacalhauJobs() - run.failures) + " of " + o.bacalhauJobs()));
        }
    }
}
