package dev.kiln.cli.bench;

/** Sizes of the suite's runs; {@link #quick()} is for smoke tests. */
public record BenchOptions(int noopJobs, int noopClients, int bacalhauJobs, int bacalhauConcurrency,
                           int pythonRuns, int pythonBusyJobs, int floorRuns) {
    public static BenchOptions defaults() {
        return new BenchOptions(20_000, 16, 10_000, 10, 200, 300, 200);
    }

    public static BenchOptions quick() {
        return new BenchOptions(500, 4, 300, 10, 10, 20, 10);
    }
}
