package dev.kiln.cli.bench;

import dev.kiln.cli.bench.sim.LocalCluster;
import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnClient;
import dev.kiln.core.JobRecord;
import dev.kiln.core.OrchestratorEvents;
import dev.kiln.node.agent.NodeAgentConfig.TransportType;
import dev.kiln.server.config.KilnConfig;
import java.io.PrintWriter;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Dispatch latency (a job becoming ready → its node starting it, the orchestrator's {@code dispatched} event) over
 * the three ways a node can hear of work: pushed over its WebSocket, a waiting long-poll, and a 1 s interval poll.
 * Each transport gets a fresh in-process orchestrator ({@code local_node: false}, noop) and one real
 * {@link dev.kiln.node.agent.NodeAgent} with the noop executor; jobs go one at a time, each once the previous one
 * finished, so the node is always idle and waiting when work arrives.
 */
@Command(name = "dispatch", mixinStandardHelpOptions = true,
        description = {"Dispatch latency p50/p99: push, long-poll, 1 s interval-poll.",
                "Job ready -> node started it, one job at a time; an in-process",
                "orchestrator and node agent per transport. Push goals: p50 <= 2 ms,",
                "p99 <= 10 ms."})
public final class DispatchBench implements Callable<Integer>, Bench {
    static final double GOAL_P50_MS = 2;
    static final double GOAL_P99_MS = 10;
    static final long INTERVAL_POLL_MILLIS = 1_000;

    @Option(names = "--jobs", description = "Measured jobs for push and long-poll (default 500; interval-poll: 30)")
    Integer jobs;

    @Option(names = "--interval-jobs", description = "Measured jobs for the 1 s interval poll (default 30)")
    Integer intervalJobs;

    @Option(names = "--quick", description = "Small runs, for a smoke test (figures are not meaningful)")
    boolean quick;

    @Option(names = "--json", description = "Print JSON instead of a table")
    boolean json;

    @Spec
    CommandSpec spec;

    public DispatchBench() {
    }

    /** For {@code kiln bench all}. */
    DispatchBench(boolean quick) {
        this.quick = quick;
    }

    /** One transport's run. */
    record Transport(String name, TransportType type, long pollMillis, int jobs, int warmup, long gapMillis) {
    }

    record Outcome(Transport transport, Percentiles latency, int samples, int failed) {
    }

    @Override
    public String name() {
        return "dispatch";
    }

    List<Transport> transports() {
        int fast = jobs != null ? jobs : quick ? 50 : 500;
        int slow = intervalJobs != null ? intervalJobs : quick ? 4 : 30;
        if (fast < 1 || slow < 1) throw new IllegalArgumentException("--jobs and --interval-jobs must be at least 1");
        return List.of(
                new Transport("push", TransportType.WS, 0, fast, quick ? 10 : 100, 2),
                new Transport("long-poll", TransportType.POLL, 0, fast, quick ? 10 : 100, 2),
                // A job is submitted at a random point of the poll interval, so the figure is the average case.
                new Transport("interval-poll 1 s", TransportType.POLL, INTERVAL_POLL_MILLIS, slow, 1,
                        -INTERVAL_POLL_MILLIS));
    }

    @Override
    public List<Figure> run(BenchOptions ignored) throws Exception {
        return figures(measureAll(null));
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<Outcome> outcomes = measureAll(json ? null : out);
        String machine = BenchCommand.machine();
        if (json) {
            JsonMapper mapper = new JsonMapper();
            ObjectNode root = mapper.createObjectNode();
            root.put("machine", machine);
            root.put("measures", "job ready -> node started it (the orchestrator's dispatched event), ms");
            ArrayNode list = root.putArray("transports");
            for (Outcome o : outcomes) {
                ObjectNode t = list.addObject().put("transport", o.transport().name())
                        .put("p50_ms", o.latency().millis(50)).put("p99_ms", o.latency().millis(99))
                        .put("samples", o.samples()).put("failed_jobs", o.failed());
                if (o.transport().type() == TransportType.WS) {
                    t.put("goal_p50_ms", GOAL_P50_MS).put("goal_p99_ms", GOAL_P99_MS)
                            .put("met", o.latency().millis(50) <= GOAL_P50_MS && o.latency().millis(99) <= GOAL_P99_MS);
                }
            }
            out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        } else {
            out.println("Kiln bench dispatch: " + machine);
            out.println("dispatch latency = job ready -> node started it (orchestrator's dispatched event), one "
                    + "job at a time, node idle");
            out.printf("%-18s %10s %10s %8s  %-24s %s%n", "TRANSPORT", "P50 (ms)", "P99 (ms)", "SAMPLES", "GOAL",
                    "MET");
            for (Outcome o : outcomes) {
                boolean push = o.transport().type() == TransportType.WS;
                double p50 = o.latency().millis(50);
                double p99 = o.latency().millis(99);
                out.printf("%-18s %10s %10s %8d  %-24s %s%s%n", o.transport().name(), Figure.format(p50),
                        Figure.format(p99), o.samples(), push ? "p50 <= 2, p99 <= 10" : "",
                        push ? (p50 <= GOAL_P50_MS && p99 <= GOAL_P99_MS ? "yes" : "NO") : "",
                        o.failed() > 0 ? "  (" + o.failed() + " jobs failed)" : "");
            }
        }
        out.flush();
        return outcomes.stream().anyMatch(o -> o.failed() > 0) ? 1 : 0;
    }

    private List<Outcome> measureAll(PrintWriter progress) throws Exception {
        List<Outcome> outcomes = new ArrayList<>();
        for (Transport t : transports()) {
            if (progress != null) {
                progress.println("running dispatch over " + t.name() + " (" + t.jobs() + " jobs)...");
                progress.flush();
            }
            outcomes.add(measure(t));
        }
        return outcomes;
    }

    static List<Figure> figures(List<Outcome> outcomes) {
        List<Figure> figures = new ArrayList<>();
        for (Outcome o : outcomes) {
            String n = o.transport().name();
            String note = o.samples() + " samples" + (o.failed() > 0 ? ", " + o.failed() + " jobs failed" : "");
            if (o.transport().type() == TransportType.WS) {
                figures.add(Figure.atMost("dispatch", n + " p50", o.latency().millis(50), "ms", GOAL_P50_MS)
                        .withNote(note));
                figures.add(Figure.atMost("dispatch", n + " p99", o.latency().millis(99), "ms", GOAL_P99_MS));
            } else {
                figures.add(Figure.info("dispatch", n + " p50", o.latency().millis(50), "ms", note));
                figures.add(Figure.info("dispatch", n + " p99", o.latency().millis(99), "ms", null));
            }
        }
        return figures;
    }

    /** A fresh orchestrator and node agent over one transport; jobs one at a time. */
    static Outcome measure(Transport t) throws Exception {
        Path dir = Files.createTempDirectory("kiln-bench-dispatch-");
        Map<String, Long> dispatched = new ConcurrentHashMap<>();
        OrchestratorEvents events = new OrchestratorEvents() {
            @Override
            public void dispatched(JobRecord job, long nanos) {
                dispatched.put(job.id(), nanos);
            }
        };
        KilnConfig config = KilnConfig.defaults().withDataDir(dir.resolve("orchestrator")).withExecutor("noop")
                .withHost("127.0.0.1").withPort(0).withShutdownGraceSeconds(0).withOwnCgroupParent("kiln-bench");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        try (LocalCluster cluster = LocalCluster.start(config, events, 1,
                new LocalCluster.NodeSpec("noop", t.type(), t.pollMillis(), 2, "bench"), dir.resolve("nodes"))) {
            if (!cluster.awaitConnected(Duration.ofSeconds(30))) {
                throw new IllegalStateException("the node agent did not connect over " + t.name() + " within 30 s");
            }
            KilnClient client = new KilnClient(cluster.url(), http);
            JobRequest job = JobRequest.python("pass");
            long[] samples = new long[t.jobs()];
            int n = 0;
            int failed = 0;
            for (int i = -t.warmup(); i < t.jobs(); i++) {
                pause(t);
                JobResponse r = client.execute(job);
                Long nanos = awaitDispatched(dispatched, r.jobId());
                if (!r.success() || nanos == null) {
                    if (i >= 0) failed++;
                    continue;
                }
                if (i >= 0) samples[n++] = nanos;
            }
            return new Outcome(t, new Percentiles(java.util.Arrays.copyOf(samples, n)), n, failed);
        } finally {
            http.shutdownNow();
            dev.kiln.node.WorkRoots.discardTree(dir);
        }
    }

    /** Push and long-poll: a short gap, so the node is waiting again. Interval poll: a random point of the interval. */
    private static void pause(Transport t) throws InterruptedException {
        long ms = t.gapMillis() >= 0 ? t.gapMillis() : ThreadLocalRandom.current().nextLong(-t.gapMillis());
        if (ms > 0) Thread.sleep(ms);
    }

    /** The event comes with the node's {@code started}, before the result; allow for it to be a moment late. */
    private static Long awaitDispatched(Map<String, Long> dispatched, String jobId) throws InterruptedException {
        for (int i = 0; i < 1_000; i++) {
            Long n = dispatched.remove(jobId);
            if (n != null) return n;
            Thread.sleep(1);
        }
        return null;
    }
}
