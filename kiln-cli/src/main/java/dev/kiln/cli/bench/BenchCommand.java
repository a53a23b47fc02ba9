package dev.kiln.cli.bench;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "bench", mixinStandardHelpOptions = true,
        subcommands = {DispatchBench.class, NodesBench.class, ReplicasBench.class},
        description = {"Kiln's benchmark suite, each against fresh in-process parts on loopback:",
                "  noop      jobs/s end to end over HTTP with the durable store (goal >= 5,000)",
                "  bacalhau  10,000 noop jobs at concurrency 10: average (goal <= 5 ms), p99, success (100 %%)",
                "  python    sandboxed print(1+1): cold p50 (goal <= 40 ms), p99, jobs/s with all cores busy;",
                "            runs floor too and reports Kiln's jobs/s as a share of it (goal >= 0.8)",
                "  floor     the same sandbox spawned directly by the executor in a loop (no Kiln)",
                "  gvisor    cold start p50/p99 and jobs/s of the gvisor executor beside bwrap's, as",
                "            ratios to bwrap's in the same run (skipped without runsc)",
                "  dispatch  dispatch latency over push, long-poll, 1 s poll (push goal:",
                "            p50 <= 2 ms, p99 <= 10 ms); options: bench dispatch --help",
                "  nodes     simulated nodes on an orchestrator process (goal: 1,000 nodes,",
                "            idle CPU < 5 %%); not in all; options: bench nodes --help",
                "  replicas  orchestrator replicas on one PostgreSQL: noop jobs/s, p50/p99 and",
                "            node failover, real server and node processes; not in all;",
                "            options: bench replicas --help",
                "  all       every one of them but nodes (default)"})
public final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", defaultValue = "all", description = "noop, bacalhau, python, floor, gvisor, all")
    String which;

    @Option(names = "--json", description = "Print JSON instead of a table")
    boolean json;

    @Option(names = "--chart", description = "Write a PNG chart of the latency figures to this file")
    Path chart;

    @Option(names = "--quick", description = "Small runs, for a smoke test (figures are not meaningful)")
    boolean quick;

    @Option(names = "--clients", description = "Concurrent clients of the noop bench (default 16)")
    Integer clients;

    @Option(names = "--jobs", description = "Jobs of the noop bench (default 20000)")
    Integer jobs;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        BenchOptions o = quick ? BenchOptions.quick() : BenchOptions.defaults();
        if (clients != null || jobs != null) {
            o = new BenchOptions(jobs != null ? jobs : o.noopJobs(), clients != null ? clients : o.noopClients(),
                    o.bacalhauJobs(), o.bacalhauConcurrency(), o.pythonRuns(), o.pythonBusyJobs(), o.floorRuns());
        }
        List<Bench> benches = switch (which) {
            case "noop" -> List.of(new NoopBench());
            case "bacalhau" -> List.of(new BacalhauBench());
            case "python" -> List.of(new PythonBench(), new FloorBench());
            case "floor" -> List.of(new FloorBench());
            case "gvisor" -> List.of(new GvisorBench());
            case "all" -> List.of(new NoopBench(), new BacalhauBench(), new PythonBench(), new FloorBench(),
                    new GvisorBench(), new DispatchBench(quick));
            default -> throw new IllegalArgumentException("unknown bench '" + which
                    + "'; choose noop, bacalhau, python, floor, gvisor or all");
        };
        PrintWriter out = spec.commandLine().getOut();
        List<Figure> figures = new ArrayList<>();
        for (Bench b : benches) {
            if (!json) {
                out.println("running " + b.name() + "...");
                out.flush();
            }
            figures.addAll(b.run(o));
        }
        BenchReport report = new BenchReport(BenchReport.withRatios(figures), machine());
        if (json) report.printJson(out); else report.printTable(out);
        if (chart != null) {
            report.writeChart(chart);
            if (!json) out.println("chart written to " + chart);
        }
        out.flush();
        return 0;
    }

    static String machine() {
        return Runtime.getRuntime().availableProcessors() + " cores, " + (Runtime.getRuntime().maxMemory() >> 20)
                + " MiB heap, Java " + Runtime.version().feature() + ", " + System.getProperty("os.name") + " "
                + System.getProperty("os.version");
    }
}
