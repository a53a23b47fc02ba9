package dev.kiln.cli.bench;

import dev.kiln.cli.bench.sim.OrchestratorProcess;
import dev.kiln.cli.bench.sim.ProcStats;
import dev.kiln.cli.bench.sim.PromHistogram;
import dev.kiln.cli.bench.sim.SimulatedNode;
import dev.kiln.client.JobRequest;
import dev.kiln.client.KilnClient;
import dev.kiln.node.protocol.NodeMessageCodec;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Many nodes on one orchestrator: {@code kiln server --local-node false} runs as a separate process, and this one
 * connects N simulated noop nodes to it ({@link SimulatedNode}: the node agent's WebSocket transport each, on one
 * shared HttpClient; the real protocol). Measures the time to connect them all, the orchestrator's idle CPU and RSS
 * with all of them heartbeating (from {@code /proc}), and dispatch latency under load.
 */
@Command(name = "nodes", mixinStandardHelpOptions = true,
        description = {"Simulated nodes on an orchestrator process: CPU, RSS, dispatch.",
                "N noop nodes (one WebSocket each, the real protocol) connect to",
                "`kiln server --local-node false`: connect time, the orchestrator's",
                "idle CPU and RSS, dispatch latency under load.",
                "Goal: 1,000 nodes with idle CPU < 5 %% (of one core)."})
public final class NodesBench implements Callable<Integer> {
    static final double GOAL_IDLE_CPU_PERCENT = 5;
    static final int GOAL_NODES = 1_000;
    private static final String HISTOGRAM = "kiln_dispatch_latency_seconds";

    @Option(names = "--nodes", defaultValue = "1000", description = "Simulated nodes (default 1000)")
    int nodes;

    @Option(names = "--slots", defaultValue = "4", description = "Slots of each simulated node (default 4)")
    int slots;

    @Option(names = "--jobs", defaultValue = "5000", description = "Measured jobs of the load phase (default 5000)")
    int jobs;

    @Option(names = "--clients", defaultValue = "4", description = "Submitting client threads (default 4)")
    int clients;

    @Option(names = "--in-flight", defaultValue = "64",
            description = "At most this many jobs submitted and not yet finished (default 64)")
    int inFlight;

    @Option(names = "--ping", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Send WebSocket pings with heartbeats as the real node agent does, when the orchestrator "
                    + "has been quiet (default: on)")
    boolean ping;

    @Option(names = "--heartbeat-ms", paramLabel = "MS",
            description = "The orchestrator's node_heartbeat (node_lease: 3 x MS); default: its own (1000 ms)")
    Integer heartbeatMs;

    @Option(names = "--idle-seconds", defaultValue = "10",
            description = "How long idle CPU is measured with all nodes connected (default 10)")
    int idleSeconds;

    @Option(names = "--orchestrator-jvm-option", paramLabel = "OPT",
            description = "An extra JVM option of the orchestrator process (repeatable), e.g. -Xmx512m or "
                    + "-XX:StartFlightRecording=filename=o.jfr")
    List<String> orchestratorJvmOptions = new ArrayList<>();

    @Option(names = "--settle-seconds", defaultValue = "20",
            description = "Wait after the last node connected before measuring idle CPU, so the JIT compilation "
                    + "the connections caused is over (default 20)")
    int settleSeconds;

    @Option(names = "--json", description = "Print JSON instead of a table")
    boolean json;

    @Spec
    CommandSpec spec;

    private final Map<String, Long> executeAt = new ConcurrentHashMap<>();
    private final AtomicLong resultsSent = new AtomicLong();
    private final Set<String> lostReasons = Collections.synchronizedSet(new LinkedHashSet<>());
    private final AtomicInteger lost = new AtomicInteger();
    private volatile Semaphore window;
    private volatile boolean closing;

    @Override
    public Integer call() throws Exception {
        if (heartbeatMs != null && (heartbeatMs < 50 || heartbeatMs > 60_000)) {
            throw new IllegalArgumentException("--heartbeat-ms must be 50 to 60000, got " + heartbeatMs);
        }
        if (settleSeconds < 0) throw new IllegalArgumentException("--settle-seconds must be 0 or more");
        if (nodes < 1 || slots < 1 || jobs < 1 || clients < 1 || inFlight < 1 || idleSeconds < 1) {
            throw new IllegalArgumentException("--nodes, --slots, --jobs, --clients, --in-flight and --idle-seconds "
                    + "must be at least 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long maxFiles = ProcStats.maxOpenFiles();
        if (maxFiles >= 0 && maxFiles < nodes + 256L) {
            err.println("error: " + nodes + " simulated nodes need " + nodes + " sockets in this process and as many "
                    + "in the orchestrator, but the open-files limit is " + maxFiles + " (ulimit -n). Raise it "
                    + "(e.g. `ulimit -n " + (nodes + 1024) + "`) or use fewer --nodes.");
            err.flush();
            return 1;
        }
        window = new Semaphore(inFlight);
        int cores = Runtime.getRuntime().availableProcessors();
        long hz = ProcStats.clockTicksPerSecond();
        Path dir = Files.createTempDirectory("kiln-bench-nodes-");
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("sim-node-heartbeats").daemon().factory());
        List<SimulatedNode> sims = new ArrayList<>();
        List<Figure> f = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        boolean ok = false;
        // Read from the orchestrator's working directory. Every simulated node connects from this one address:
        // the per-client connection cap (256 by default) is raised to fit them.
        String yaml = "http:\n  max_connections_per_client: " + Math.max(256, nodes + 64) + "\n  max_connections: "
                + Math.max(10_000, nodes + 256) + "\n";
        if (heartbeatMs != null) yaml += "node_heartbeat: " + heartbeatMs + "\nnode_lease: " + 3L * heartbeatMs + "\n";
        Files.writeString(dir.resolve("kiln.yaml"), yaml);
        progress(out, "starting the orchestrator process (kiln server --local-node false --executor noop)...");
        OrchestratorProcess orchestrator = OrchestratorProcess.start(dir, orchestratorJvmOptions, "--local-node", "false",
                "--executor", "noop");
        try {
            orchestrator.awaitHealthy(http, Duration.ofSeconds(60));
            long pid = orchestrator.pid();
            Thread.sleep(2_000); // start-up work (JIT, store) settles
            double baselineCpu = cpu(pid, hz, Math.max(2, idleSeconds / 2)).percent();
            long rssNoNodes = ProcStats.rssKib(pid);

            // ---- connect ----
            progress(out, "connecting " + nodes + " simulated nodes...");
            NodeMessageCodec codec = new NodeMessageCodec();
            URI ws = URI.create(orchestrator.url().replace("http://", "ws://") + "/node-api/v1/ws");
            SimulatedNode.Observer observer = new Observer();
            Semaphore connecting = new Semaphore(64); // connects in flight at once
            List<CompletableFuture<?>> welcomes = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 1; i <= nodes; i++) {
                SimulatedNode sim = new SimulatedNode(String.format("sim-%05d", i), slots,
                        Map.of("zone", "zone-" + (i % 4), "sim", "true"), ping, codec, timers, observer);
                sims.add(sim);
                connecting.acquire();
                welcomes.add(sim.connect(http, ws)
                        .whenComplete((w, e) -> connecting.release()));
            }
            int failed = 0;
            Set<String> failures = new LinkedHashSet<>();
            for (CompletableFuture<?> w : welcomes) {
                try {
                    w.join();
                } catch (RuntimeException e) {
                    failed++;
                    Throwable c = e.getCause() != null ? e.getCause() : e;
                    if (failures.size() < 5) failures.add(c.getMessage() == null ? c.toString() : c.getMessage());
                }
            }
            double connectMs = (System.nanoTime() - t0) / 1e6;
            if (failed > 0) {
                err.println("error: " + failed + " of " + nodes + " simulated nodes could not connect. First errors:");
                failures.forEach(m -> err.println("  " + m));
                err.println("Open files: this process " + ProcStats.openFiles(ProcessHandle.current().pid())
                        + " (limit " + maxFiles + "), the orchestrator " + ProcStats.openFiles(pid) + ". When the "
                        + "errors mention 'Too many open files', raise `ulimit -n` or use fewer --nodes. "
                        + "Orchestrator log: " + orchestrator.log());
                err.println(orchestrator.tail(10));
                err.flush();
                return 1;
            }
            int connected = (int) metric(http, orchestrator.url(), "kiln_nodes_connected");
            f.add(Figure.info("nodes", "nodes connected", connected, "nodes", "orchestrator's kiln_nodes_connected; "
                    + nodes + " simulated, " + slots + " slots each"));
            f.add(Figure.info("nodes", "connect time, all nodes", connectMs, "ms",
                    "WebSocket + hello -> welcome, 64 at a time"));
            f.add(Figure.info("nodes", "heartbeat interval", heartbeatMs(sims), "ms",
                    "from welcome" + (ping ? "; WebSocket pings as the real agent sends them" : "; no pings")));

            // ---- idle ----
            progress(out, "measuring the orchestrator's idle CPU for " + idleSeconds + " s with " + nodes
                    + " nodes heartbeating, after " + settleSeconds + " s to settle...");
            Thread.sleep(settleSeconds * 1_000L);
            long benchCpu0 = processCpuNanos();
            long wall0 = System.nanoTime();
            CpuUse idleUse = cpu(pid, hz, idleSeconds);
            double idleCpu = idleUse.percent();
            double benchCpu = 100.0 * (processCpuNanos() - benchCpu0) / (System.nanoTime() - wall0);
            long rssIdle = ProcStats.rssKib(pid);
            Figure idle = nodes >= GOAL_NODES
                    ? Figure.atMost("nodes", "idle CPU, % of one core", idleCpu, "%", GOAL_IDLE_CPU_PERCENT)
                    : Figure.info("nodes", "idle CPU, % of one core", idleCpu, "%", null);
            f.add(idle.withNote("orchestrator process, " + idleSeconds + " s from " + settleSeconds
                    + " s after the last connect, /proc/" + pid + "/stat utime+stime"
                    + "; " + Figure.format(idleUse.systemPercent()) + " of it in the kernel (stime)"
                    + (nodes < GOAL_NODES ? "; the goal (< 5 %) is for 1,000 nodes" : "")));
            f.add(Figure.info("nodes", "idle CPU, % of all " + cores + " cores", idleCpu / cores, "%", null));
            f.add(Figure.info("nodes", "idle CPU without nodes", baselineCpu, "%",
                    "% of one core, before any node connected"));
            f.add(Figure.info("nodes", "RSS, nodes connected", rssIdle / 1024.0, "MiB",
                    "VmRSS; " + Figure.format(rssNoNodes / 1024.0) + " MiB before any node, "
                    + (orchestratorJvmOptions.isEmpty() ? "default heap settings"
                    : "JVM options " + String.join(" ", orchestratorJvmOptions))));
            f.add(Figure.info("nodes", "bench JVM CPU (sim nodes)", benchCpu, "%",
                    "% of one core: the simulated nodes' own heartbeats, same machine"));
            if (lost.get() > 0) {
                notes.add(lost.get() + " simulated node(s) lost their connection: " + lostReasons);
            }

            // ---- load ----
            int warmup = Math.min(500, Math.max(10, jobs / 10));
            progress(out, "dispatch under load: " + warmup + " warm-up jobs, then " + jobs + " measured ("
                    + clients + " clients, at most " + inFlight + " in flight)...");
            HttpClient clientHttp = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .executor(Executors.newVirtualThreadPerTaskExecutor()).build();
            KilnClient kiln = new KilnClient(orchestrator.url(), clientHttp);
            submit(kiln, warmup, null, null);
            awaitResults(warmup);
            PromHistogram before = histogram(http, orchestrator.url());
            Map<String, Long> sentAt = new ConcurrentHashMap<>();
            Map<String, Long> answeredAt = new ConcurrentHashMap<>();
            long load0 = System.nanoTime();
            int submitFailures = submit(kiln, jobs, sentAt, answeredAt);
            boolean allRan = awaitResults((long) warmup + jobs - submitFailures);
            double loadSeconds = (System.nanoTime() - load0) / 1e9;
            PromHistogram measured = awaitHistogram(http, orchestrator.url(), before, answeredAt.size());
            long rssLoad = ProcStats.rssKib(pid);
            clientHttp.shutdownNow();

            double p50 = measured.quantile(0.5) * 1e3;
            double p99 = measured.quantile(0.99) * 1e3;
            f.add(Figure.info("nodes", "dispatch p50 (histogram)", p50, "ms", bucketNote(measured, 0.5)
                    + "; " + (long) measured.count() + " jobs"));
            f.add(Figure.info("nodes", "dispatch p99 (histogram)", p99, "ms", bucketNote(measured, 0.99)));
            long[] fromAnswer = deltas(answeredAt);
            long[] fromSent = deltas(sentAt);
            Percentiles answer = new Percentiles(fromAnswer);
            Percentiles sent = new Percentiles(fromSent);
            f.add(Figure.info("nodes", "submit answered->execute p50", answer.millis(50), "ms",
                    "in-process: POST /jobs answered -> execute at the sim node (< 0: execute came first)"));
            f.add(Figure.info("nodes", "submit answered->execute p99", answer.millis(99), "ms", null));
            f.add(Figure.info("nodes", "submit sent->execute p50", sent.millis(50), "ms",
                    "in-process: POST /jobs sent -> execute at the sim node"));
            f.add(Figure.info("nodes", "submit sent->execute p99", sent.millis(99), "ms", null));
            f.add(Figure.info("nodes", "jobs/s under load", jobs / loadSeconds, "jobs/s",
                    "submit -> result sent by the sim node"));
            f.add(Figure.info("nodes", "RSS after load", rssLoad / 1024.0, "MiB", null));
            long missing = jobs - fromSent.length;
            f.add(Figure.atMost("nodes", "jobs not dispatched", missing, "jobs", 0)
                    .withNote(submitFailures + " submit(s) failed" + (allRan ? "" : "; timed out waiting for results")));
            if (lost.get() > 0 && notes.isEmpty()) {
                notes.add(lost.get() + " simulated node(s) lost their connection: " + lostReasons);
            }
            ok = true;
        } finally {
            closing = true;
            sims.forEach(SimulatedNode::close);
            Thread.sleep(ok ? 500 : 0);
            orchestrator.close();
            timers.shutdownNow();
            http.shutdownNow();
            if (ok) {
                dev.kiln.node.WorkRoots.discardTree(dir);
            } else {
                err.println("orchestrator log kept: " + orchestrator.log());
                err.flush();
            }
        }
        BenchReport report = new BenchReport(f, BenchCommand.machine());
        if (json) {
            report.printJson(out);
            return 0;
        }
        report.printTable(out);
        Figure idle = f.stream().filter(x -> x.name().equals("idle CPU, % of one core")).findFirst().orElseThrow();
        out.println();
        out.println("Goal: 1,000 nodes with the orchestrator's idle CPU < 5 % (of one core): "
                + (nodes < GOAL_NODES ? "not tested (" + nodes + " nodes)"
                : idle.value() < GOAL_IDLE_CPU_PERCENT ? "met" : "NOT met")
                + " — " + Figure.format(idle.value()) + " % of one core, "
                + Figure.format(idle.value() / cores) + " % of the machine's " + cores + " cores.");
        out.println("Idle CPU: the orchestrator process's utime+stime delta (/proc/<pid>/stat) over the window, "
                + "divided by the window's length. RSS: VmRSS from /proc/<pid>/status.");
        out.println("Dispatch p50/p99 (histogram): the orchestrator's own measure (job ready -> node's started), "
                + "from the Prometheus histogram " + HISTOGRAM + "_bucket at /metrics: the buckets' counts after "
                + "the load minus before it, with the quantile interpolated inside its bucket as PromQL's "
                + "histogram_quantile does, so it is only as precise as the bucket bounds given in the note.");
        out.println("Submit -> execute: timed in this process, from POST /jobs (sent, or answered) to the execute "
                + "message arriving at a simulated node; it adds HTTP and WebSocket hops to the dispatch latency. "
                + "The simulated nodes and the clients run in this JVM on the same cores as the orchestrator.");
        notes.forEach(n -> out.println("Note: " + n));
        out.flush();
        return 0;
    }

    private final class Observer implements SimulatedNode.Observer {
        @Override
        public void executeReceived(String jobId, long nanos) {
            executeAt.put(jobId, nanos);
        }

        @Override
        public void resultSent(String jobId) {
            resultsSent.incrementAndGet();
            window.release();
        }

        @Override
        public void lost(SimulatedNode node, String why) {
            if (closing) return;
            lost.incrementAndGet();
            if (lostReasons.size() < 5) lostReasons.add(node.nodeId() + ": " + why);
        }
    }

    /**
     * Submits {@code count} jobs from {@link #clients} virtual threads, at most {@link #inFlight} unfinished at a
     * time; records when each request went out and when its answer came (by job id) when the maps are given.
     * Returns how many submissions failed.
     */
    private int submit(KilnClient kiln, int count, Map<String, Long> sentAt, Map<String, Long> answeredAt)
            throws InterruptedException {
        JobRequest job = JobRequest.python("pass");
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            threads.add(Thread.ofVirtual().start(() -> {
                while (next.getAndIncrement() < count) {
                    try {
                        window.acquire();
                    } catch (InterruptedException e) {
                        return;
                    }
                    long sent = System.nanoTime();
                    try {
                        String id = kiln.submit(job).jobId();
                        long answered = System.nanoTime();
                        if (sentAt != null) {
                            sentAt.put(id, sent);
                            answeredAt.put(id, answered);
                        }
                    } catch (RuntimeException e) {
                        failures.incrementAndGet();
                        window.release();
                    }
                }
            }));
        }
        for (Thread t : threads) t.join();
        return failures.get();
    }

    /** Waits until the simulated nodes sent {@code total} results (60 s at most after the last one). */
    private boolean awaitResults(long total) throws InterruptedException {
        long last = resultsSent.get();
        long quietSince = System.nanoTime();
        while (resultsSent.get() < total) {
            Thread.sleep(5);
            long now = resultsSent.get();
            if (now != last) {
                last = now;
                quietSince = System.nanoTime();
            } else if (System.nanoTime() - quietSince > TimeUnit.SECONDS.toNanos(60)) {
                return false;
            }
        }
        return true;
    }

    /** The measured part of the histogram, once the orchestrator has recorded every measured job's start. */
    private static PromHistogram awaitHistogram(HttpClient http, String url, PromHistogram before, int expected)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        PromHistogram h;
        do {
            h = histogram(http, url).minus(before);
            if (h.count() >= expected) return h;
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        return h;
    }

    private static PromHistogram histogram(HttpClient http, String url) throws Exception {
        return PromHistogram.parse(scrape(http, url), HISTOGRAM);
    }

    private static String scrape(HttpClient http, String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    /** A gauge or counter without labels; NaN when absent. */
    private static double metric(HttpClient http, String url, String name) throws Exception {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^" + name + "(?:\\{[^}]*})?\\s+(\\S+)")
                .matcher(scrape(http, url));
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    private static double heartbeatMs(List<SimulatedNode> sims) {
        return sims.isEmpty() ? Double.NaN : sims.getFirst().heartbeatMillis();
    }

    private static String bucketNote(PromHistogram h, double q) {
        double[] b = h.bucketAround(q);
        return "in the bucket " + Figure.format(b[0] * 1e3) + "-" + Figure.format(b[1] * 1e3) + " ms";
    }

    /** Execute-received minus the recorded time, for the jobs whose execute arrived. */
    private long[] deltas(Map<String, Long> from) {
        List<Long> out = new ArrayList<>(from.size());
        from.forEach((id, t) -> {
            Long e = executeAt.get(id);
            if (e != null) out.add(e - t);
        });
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    /** A process's CPU over a window, in % of one core: all of it, and the kernel's part (stime). */
    record CpuUse(double percent, double systemPercent) {
    }

    /** The orchestrator's CPU over {@code seconds}. */
    private static CpuUse cpu(long pid, long hz, int seconds) throws Exception {
        ProcStats.CpuTicks ticks0 = ProcStats.cpuTicks(pid);
        long t0 = System.nanoTime();
        Thread.sleep(seconds * 1_000L);
        ProcStats.CpuTicks ticks = ProcStats.cpuTicks(pid).minus(ticks0);
        double elapsed = (System.nanoTime() - t0) / 1e9;
        return new CpuUse(100.0 * ticks.total() / hz / elapsed, 100.0 * ticks.system() / hz / elapsed);
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private void progress(PrintWriter out, String line) {
        if (json) return;
        out.println(line);
        out.flush();
    }
}
