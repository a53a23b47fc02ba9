package dev.kiln.cli.bench;

import dev.kiln.cli.bench.sim.NodeProcess;
import dev.kiln.cli.bench.sim.OrchestratorProcess;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Orchestrator replicas on one PostgreSQL database. For each replica count R: R real {@code kiln server} processes
 * ({@code --executor noop --local-node=false}, loopback, data directories and cgroup parents of their own, all on one
 * freshly emptied database) and N real {@code kiln node} processes (noop), each given every replica's URL as a
 * comma-separated {@code --orchestrator} list that starts at a different replica, so the nodes spread over them.
 * Keep-alive clients submit noop jobs round-robin over the replicas ({@code POST /jobs}, then
 * {@code GET /jobs/{id}?wait=30} on the same replica until the job is terminal): jobs/s (first submit to the last
 * terminal answer) and submit-to-result p50/p99. The floor is the server's own HTTP round trip, {@code GET /health}
 * on the first replica from the same clients and connections, measured in the same run just before the jobs; every
 * figure is also given as a ratio to it. Then node failover: the replica one node is connected to is killed with
 * SIGKILL, a job only that node can run (a label constraint) is submitted to the replica next in the node's list,
 * and the time from the kill to that job's result is measured.
 *
 * <p>A {@code kiln node} that takes one URL only (before the orchestrator list) refuses the list; the bench then
 * gives each node the one URL of its replica, and failover is reported as not measured.
 */
@Command(name = "replicas", mixinStandardHelpOptions = true,
        description = {"Orchestrator replicas on one PostgreSQL: noop jobs/s, submit -> result p50/p99",
                "(each also as a ratio to GET /health measured in the same run), and node failover",
                "after a replica is killed with SIGKILL. Real `kiln server` and `kiln node` processes",
                "on loopback; a PostgreSQL of the bench's own unless --store is given."})
public final class ReplicasBench implements Callable<Integer> {
    static final String HEALTH_OK = "\"status\":\"ok\"";
    private static final Pattern JOB_ID = Pattern.compile("\"job_id\":\"([^\"]+)\"");
    private static final Pattern STATUS = Pattern.compile("\"status\":\"([a-z_]+)\"");
    private static final Set<String> TERMINAL = Set.of("succeeded", "failed", "timeout", "oom", "cancelled");
    private static final Set<String> NOT_CONNECTED = Set.of("disconnected", "lost", "removed");
    private static final Duration JOB_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration REPLICA_START_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration NODES_TIMEOUT = Duration.ofSeconds(60);

    @Option(names = "--replicas", defaultValue = "1,2,3", paramLabel = "R[,R...]",
            description = "Replica counts to measure, each in a run of its own (default 1,2,3)")
    String replicas;

    @Option(names = "--nodes", defaultValue = "3", description = "kiln node processes (default 3)")
    int nodes;

    @Option(names = "--slots", defaultValue = "8", description = "Slots of each node (default 8)")
    int slots;

    @Option(names = "--jobs", defaultValue = "5000",
            description = "Measured jobs per replica count, after 10 %% as many (50 to 500) unmeasured (default 5000)")
    int jobs;

    @Option(names = "--clients", defaultValue = "16", description = "Concurrent keep-alive clients (default 16)")
    int clients;

    @Option(names = "--store", paramLabel = "URL",
            description = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE to use instead of a PostgreSQL of the "
                    + "bench's own; the bench EMPTIES it before each replica count (an unset KILN_STORE is not read)")
    String store;

    @Option(names = "--wipe-store", description = "Allow --store to name a database that holds tables: everything "
            + "its user owns in the current schema is dropped")
    boolean wipeStore;

    @Option(names = "--postgres-bin", paramLabel = "DIR",
            description = "Directory of initdb and postgres for the bench's own PostgreSQL (default: zonky's "
                    + "binaries on the class path, else /usr/lib/postgresql/*/bin, else the PATH)")
    Path postgresBin;

    @Option(names = "--failover-timeout", defaultValue = "30", paramLabel = "SECONDS",
            description = "How long failover may take before it is reported as not done (default 30)")
    int failoverTimeout;

    @Option(names = "--jvm-option", paramLabel = "OPT",
            description = "An extra JVM option of every replica and node process (repeatable), e.g. -Xmx512m")
    List<String> jvmOptions = new ArrayList<>();

    @Option(names = "--json", description = "Print JSON instead of a table")
    boolean json;

    @Spec
    CommandSpec spec;

    private final JsonMapper mapper = new JsonMapper();
    /** Whether {@code kiln node} takes a list of orchestrators; null until a node with a list was tried. */
    private Boolean listSupported;

    /** One replica count's figures. */
    record Run(int replicas, int nodes, List<Integer> nodesPerReplica, boolean orchestratorList, int jobs,
               int clients, double jobsPerSecond, double p50Ms, double p99Ms, long failedJobs,
               double floorPerSecond, double floorP50Ms, double floorP99Ms, int floorRequests, long floorFailures,
               Failover failover) {
        double throughputRatio() {
            return floorPerSecond > 0 ? jobsPerSecond / floorPerSecond : Double.NaN;
        }

        double p50Ratio() {
            return floorP50Ms > 0 ? p50Ms / floorP50Ms : Double.NaN;
        }

        double p99Ratio() {
            return floorP99Ms > 0 ? p99Ms / floorP99Ms : Double.NaN;
        }
    }

    /**
     * {@code outcome}: measured, timed_out, not_applicable (one replica) or not_measured (nodes take one URL).
     * Replicas are numbered from 1.
     */
    record Failover(String outcome, double millis, double reconnectMillis, String node, int killed, int via,
                    String note) {
        static Failover skipped(String outcome, String note) {
            return new Failover(outcome, Double.NaN, Double.NaN, null, 0, 0, note);
        }
    }

    @Override
    public Integer call() throws Exception {
        List<Integer> counts = parseCounts();
        if (nodes < 1 || slots < 1 || jobs < 1 || clients < 1 || failoverTimeout < 1) {
            throw new IllegalArgumentException("--nodes, --slots, --jobs, --clients and --failover-timeout must be "
                    + "at least 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int max = counts.stream().mapToInt(Integer::intValue).max().orElseThrow();
        Path dir = Files.createTempDirectory("kiln-bench-replicas-");
        List<Run> runs = new ArrayList<>();
        String storeDescription;
        boolean ok = false;
        try {
            progress(out, store == null ? "starting a PostgreSQL of the bench's own..." : "checking --store...");
            try (ReplicaStore db = store == null ? ReplicaStore.embedded(postgresBin, max)
                    : ReplicaStore.external(store, wipeStore)) {
                storeDescription = db.describe();
                progress(out, "store: " + storeDescription);
                for (int r : counts) runs.add(measure(r, db, Files.createDirectories(dir.resolve("r" + r)), out));
            }
            ok = true;
        } finally {
            if (!ok) keepLogs(dir, err);
            dev.kiln.node.WorkRoots.discardTree(dir);
        }
        if (json) printJson(out, runs, storeDescription); else printTable(out, runs, storeDescription);
        out.flush();
        return runs.stream().anyMatch(r -> r.failedJobs() > 0 || r.floorFailures() > 0) ? 1 : 0;
    }

    private List<Integer> parseCounts() {
        List<Integer> out = new ArrayList<>();
        for (String s : replicas.split(",")) {
            int n;
            try {
                n = Integer.parseInt(s.strip());
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n < 1 || n > 9) {
                throw new IllegalArgumentException("--replicas: expected counts from 1 to 9 such as 1,2,3, got '"
                        + replicas + "'");
            }
            out.add(n);
        }
        return out;
    }

    /** One replica count, from empty database to every process gone. */
    private Run measure(int r, ReplicaStore db, Path dir, PrintWriter out) throws Exception {
        progress(out, "replicas " + r + ": starting " + r + " kiln server and " + nodes + " kiln node processes...");
        String storeUrl = db.fresh(r);
        List<OrchestratorProcess> servers = new ArrayList<>();
        List<NodeProcess> nodeProcs = new ArrayList<>();
        List<KeepAliveHttp> loadClients = new ArrayList<>();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2)).build();
        try {
            for (int i = 0; i < r; i++) {
                // The store URL goes by KILN_STORE, not on the command line, where ps shows it.
                servers.add(OrchestratorProcess.start(Files.createDirectories(dir.resolve("replica-" + (i + 1))),
                        jvmOptions, Map.of("KILN_STORE", storeUrl), "--executor", "noop", "--local-node=false"));
            }
            for (OrchestratorProcess s : servers) s.awaitHealthy(http, REPLICA_START_TIMEOUT);
            String run = UUID.randomUUID().toString().substring(0, 6);
            Map<String, Integer> placement = startNodes(r, servers, nodeProcs, dir, run, http);
            List<Integer> perReplica = new ArrayList<>();
            for (int i = 0; i < r; i++) {
                final int idx = i;
                perReplica.add((int) placement.values().stream().filter(v -> v == idx).count());
            }
            boolean list = r > 1 && Boolean.TRUE.equals(listSupported);

            // ---- floor: the server's own HTTP round trip, same clients and connections ----
            int warmup = Math.min(500, Math.max(50, jobs / 10));
            int floorRequests = Math.max(1_000, jobs);
            progress(out, "replicas " + r + ": floor, " + floorRequests + " GET /health on replica 1 from "
                    + clients + " clients...");
            KeepAliveHttp floorHttp = new KeepAliveHttp(servers.getFirst().url());
            loadClients.add(floorHttp);
            byte[] health = floorHttp.prepareGet("/health");
            BooleanSupplier healthCall = () -> floorHttp.send(health, HEALTH_OK);
            LoadRun.run(warmup, clients, healthCall);
            LoadRun floor = LoadRun.run(floorRequests, clients, healthCall);

            // ---- jobs, round-robin over the replicas ----
            List<KeepAliveHttp> perServer = new ArrayList<>();
            List<byte[]> posts = new ArrayList<>();
            for (OrchestratorProcess s : servers) {
                KeepAliveHttp h = new KeepAliveHttp(s.url());
                loadClients.add(h);
                perServer.add(h);
                posts.add(h.preparePost("/jobs", "{\"code\": \"pass\"}"));
            }
            AtomicInteger next = new AtomicInteger();
            BooleanSupplier job = () -> {
                int k = Math.floorMod(next.getAndIncrement(), r);
                return runJob(perServer.get(k), posts.get(k));
            };
            progress(out, "replicas " + r + ": " + warmup + " warm-up jobs, then " + jobs + " measured, "
                    + clients + " clients round-robin over " + r + " replica(s)...");
            LoadRun.run(warmup, clients, job);
            LoadRun load = LoadRun.run(jobs, clients, job);
            Percentiles lp = load.percentiles();
            Percentiles fp = floor.percentiles();

            // ---- failover ----
            Failover failover;
            if (r < 2) {
                failover = Failover.skipped("not_applicable", "one replica: no other replica to move to");
            } else if (!list) {
                failover = Failover.skipped("not_measured", "this kiln node takes one --orchestrator URL (it "
                        + "refused the list), so a node cannot move to another replica");
            } else {
                progress(out, "replicas " + r + ": failover, killing a node's replica with SIGKILL...");
                failover = failover(servers, nodeProcs, http);
            }
            return new Run(r, nodes, perReplica, list, jobs, clients, load.perSecond(), lp.millis(50),
                    lp.millis(99), load.failures, floor.perSecond(), fp.millis(50), fp.millis(99), floorRequests,
                    floor.failures, failover);
        } finally {
            loadClients.forEach(KeepAliveHttp::close);
            closeAll(nodeProcs);
            closeAll(servers);
            http.shutdownNow();
            db.done(r);
        }
    }

    /** One job's life: submit, then long-poll the same replica until it is terminal; true when it succeeded. */
    private static boolean runJob(KeepAliveHttp h, byte[] post) {
        KeepAliveHttp.Reply sub = h.call(post);
        if (sub.status() != 202) return false;
        String id = group(JOB_ID, sub.body());
        String status = group(STATUS, sub.body());
        if (id == null) return false;
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        byte[] poll = null;
        while (!TERMINAL.contains(status)) {
            if (System.nanoTime() > deadline) return false;
            if (poll == null) poll = h.prepareGet("/jobs/" + id + "?wait=30");
            KeepAliveHttp.Reply got = h.call(poll);
            if (got.status() != 200) return false;
            status = group(STATUS, got.body());
        }
        return "succeeded".equals(status);
    }

    private static String group(Pattern p, String body) {
        Matcher m = p.matcher(body);
        return m.find() ? m.group(1) : null;
    }

    /**
     * Starts the nodes, node i's list starting at replica i mod R, and waits until each is connected to a replica.
     * Returns node id -> the index of its replica. A node that refuses the list (it takes one URL) exits at once
     * with a usage error; then every node is started again with its own replica's URL alone.
     */
    private Map<String, Integer> startNodes(int r, List<OrchestratorProcess> servers, List<NodeProcess> procs,
                                            Path dir, String run, HttpClient http) throws Exception {
        boolean useList = r > 1 && !Boolean.FALSE.equals(listSupported);
        for (int attempt = 0; attempt < 2; attempt++) {
            for (int i = 0; i < nodes; i++) {
                String id = "bench-" + run + "-n" + (i + 1);
                StringBuilder urls = new StringBuilder();
                int n = useList ? r : 1;
                for (int k = 0; k < n; k++) {
                    if (k > 0) urls.append(',');
                    urls.append(servers.get((i + k) % r).url());
                }
                procs.add(NodeProcess.start(dir.resolve("node-" + (i + 1) + (attempt > 0 ? "-single" : "")), id,
                        urls.toString(), jvmOptions, "--executor", "noop", "--slots", String.valueOf(slots),
                        "--labels", "bench-node=" + id));
            }
            Map<String, Integer> placement = awaitNodes(servers, procs, http, useList);
            if (placement != null) {
                if (useList) listSupported = true;
                return placement;
            }
            // the list was refused: one URL each from now on
            listSupported = false;
            useList = false;
            closeAll(procs);
            procs.clear();
        }
        throw new IllegalStateException("nodes did not start");
    }

    /** node id -> replica index once all are connected; null when a node refused the list of URLs. */
    private Map<String, Integer> awaitNodes(List<OrchestratorProcess> servers, List<NodeProcess> procs,
                                            HttpClient http, boolean list) throws Exception {
        long deadline = System.nanoTime() + NODES_TIMEOUT.toNanos();
        while (true) {
            for (NodeProcess p : procs) {
                if (p.alive()) continue;
                if (list && p.exitValue() == 2 && p.tail(1_000).contains("--orchestrator must")) return null;
                throw new IOException("node " + p.nodeId() + " exited with " + p.exitValue() + "; its log "
                        + p.log() + ":\n" + p.tail(20));
            }
            Map<String, Integer> placement = placement(servers, http, Set.of());
            if (procs.stream().allMatch(p -> placement.containsKey(p.nodeId()))) return placement;
            if (System.nanoTime() > deadline) {
                throw new IOException("only " + placement.size() + " of " + procs.size() + " nodes connected within "
                        + NODES_TIMEOUT.toSeconds() + " s; the first node's log:\n" + procs.getFirst().tail(20));
            }
            Thread.sleep(100);
        }
    }

    /** Which replica lists each node as connected (GET /nodes on each, but those in {@code skip}). */
    private Map<String, Integer> placement(List<OrchestratorProcess> servers, HttpClient http, Set<Integer> skip) {
        Map<String, Integer> out = new HashMap<>();
        for (int i = 0; i < servers.size(); i++) {
            if (skip.contains(i)) continue;
            for (JsonNode n : nodesOf(servers.get(i).url(), http)) {
                if (!NOT_CONNECTED.contains(n.path("status").asString(""))) out.put(n.path("id").asString(""), i);
            }
        }
        return out;
    }

    private List<JsonNode> nodesOf(String url, HttpClient http) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/nodes"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) return List.of();
            List<JsonNode> out = new ArrayList<>();
            mapper.readTree(r.body()).forEach(out::add);
            return out;
        } catch (IOException | RuntimeException e) {
            return List.of(); // not answering (killed, or starting)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
    }

    /**
     * Kills (SIGKILL) the replica the first node is connected to, submits to the next replica of the node's list a
     * job only that node can run, and times the kill to that job's result; also when the node was first listed
     * connected by a surviving replica.
     */
    private Failover failover(List<OrchestratorProcess> servers, List<NodeProcess> procs, HttpClient http)
            throws Exception {
        int r = servers.size();
        NodeProcess node = procs.getFirst();
        Integer a = placement(servers, http, Set.of()).get(node.nodeId());
        if (a == null) return Failover.skipped("timed_out", "node " + node.nodeId() + " was not connected");
        int b = (a + 1) % r; // the node's list goes on with this one
        Set<Integer> survivors = new java.util.HashSet<>();
        for (int i = 0; i < r; i++) if (i != a) survivors.add(i);
        Instant killedAt = Instant.now();
        long t0 = System.nanoTime();
        long deadline = t0 + TimeUnit.SECONDS.toNanos(failoverTimeout);
        servers.get(a).kill9();

        AtomicLong reconnected = new AtomicLong(-1);
        java.util.concurrent.atomic.AtomicReference<String> watchError = new java.util.concurrent.atomic.AtomicReference<>();
        Thread watcher = Thread.ofVirtual().start(() -> {
            while (System.nanoTime() < deadline && !Thread.currentThread().isInterrupted()) {
                for (int i : survivors) {
                    for (JsonNode n : nodesOf(servers.get(i).url(), http)) {
                        if (!n.path("id").asString("").equals(node.nodeId())) continue;
                        if (NOT_CONNECTED.contains(n.path("status").asString(""))) continue;
                        String since = n.path("connected_since").asString("");
                        try {
                            if (!since.isEmpty() && Instant.parse(since).isBefore(killedAt.minusSeconds(1))) continue;
                        } catch (RuntimeException e) {
                            watchError.set("connected_since '" + since + "': " + e);
                            continue;
                        }
                        reconnected.compareAndSet(-1, System.nanoTime());
                        return;
                    }
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        String url = servers.get(b).url();
        String body = "{\"code\": \"pass\", \"constraints\": [\"bench-node=" + node.nodeId() + "\"]}";
        String jobId = null;
        JsonNode done = null;
        long doneAt = 0;
        try {
            while (jobId == null && System.nanoTime() < deadline) {
                try {
                    HttpResponse<String> s = http.send(HttpRequest.newBuilder(URI.create(url + "/jobs"))
                            .timeout(Duration.ofSeconds(5)).header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (s.statusCode() == 202) jobId = mapper.readTree(s.body()).path("job_id").asString(null);
                } catch (IOException e) {
                    // the survivor busy taking over: try again
                }
                if (jobId == null) Thread.sleep(100);
            }
            while (jobId != null && System.nanoTime() < deadline) {
                long left = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(deadline - System.nanoTime()));
                try {
                    HttpResponse<String> g = http.send(HttpRequest.newBuilder(URI.create(url + "/jobs/" + jobId
                            + "?wait=" + Math.min(30, left))).timeout(Duration.ofSeconds(left + 5)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (g.statusCode() == 200) {
                        JsonNode j = mapper.readTree(g.body());
                        if (TERMINAL.contains(j.path("status").asString(""))) {
                            doneAt = System.nanoTime();
                            done = j;
                            break;
                        }
                    } else {
                        Thread.sleep(100);
                    }
                } catch (IOException e) {
                    Thread.sleep(100);
                }
            }
        } finally {
            // The job may finish within one poll of the node's reconnection: give the watcher a moment to see it.
            if (done != null) watcher.join(2_000);
            watcher.interrupt();
            watcher.join(2_000);
        }
        if (done != null) {
            double ms = (doneAt - t0) / 1e6;
            // seen after the result: it reconnected before, within the last poll (50 ms)
            double reconnectMs = reconnected.get() < 0 ? Double.NaN : (Math.min(reconnected.get(), doneAt) - t0) / 1e6;
            String status = done.path("status").asString("");
            String ranOn = done.path("node_id").asString("");
            if (status.equals("succeeded") && ranOn.equals(node.nodeId())) {
                return new Failover("measured", ms, reconnectMs, node.nodeId(), a + 1, b + 1,
                        "SIGKILL of replica " + (a + 1) + " -> the job submitted to replica " + (b + 1)
                                + " succeeded on " + ranOn + (watchError.get() == null ? "" : "; " + watchError.get()));
            }
            return new Failover("timed_out", Double.NaN, reconnectMs, node.nodeId(), a + 1, b + 1,
                    "the failover job ended " + status + " on node '" + ranOn + "'");
        }
        double reconnectMs = reconnected.get() < 0 ? Double.NaN : (reconnected.get() - t0) / 1e6;
        return new Failover("timed_out", Double.NaN, reconnectMs, node.nodeId(), a + 1, b + 1,
                (jobId == null ? "replica " + (b + 1) + " accepted no job" : "job " + jobId + " had no result")
                        + " within " + failoverTimeout + " s of the SIGKILL of replica " + (a + 1)
                        + "; the node last logged a connection to " + node.lastConnectedUrl());
    }

    /** Closes them all at once (each waits for its process); returns when all are closed. */
    private static void closeAll(List<? extends AutoCloseable> all) throws InterruptedException {
        List<Thread> threads = new ArrayList<>();
        for (AutoCloseable c : all) {
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // closing a bench process: it is killed at the latest
                }
            }));
        }
        for (Thread t : threads) t.join();
    }

    /** After a failure: the processes' logs go to a directory of their own, named on stderr. */
    private static void keepLogs(Path dir, PrintWriter err) {
        try {
            Path keep = Files.createTempDirectory("kiln-bench-replicas-logs-");
            try (var files = Files.walk(dir)) {
                for (Path p : files.filter(f -> f.toString().endsWith(".log")).toList()) {
                    Path to = keep.resolve(dir.relativize(p).toString().replace('/', '_'));
                    Files.copy(p, to);
                }
            }
            err.println("kiln bench replicas failed; the processes' logs are kept in " + keep);
        } catch (IOException e) {
            err.println("kiln bench replicas failed; its logs could not be kept: " + e);
        }
        err.flush();
    }

    String command() {
        StringBuilder c = new StringBuilder("kiln bench replicas --replicas ").append(replicas.replace(" ", ""))
                .append(" --nodes ").append(nodes).append(" --jobs ").append(jobs).append(" --clients ")
                .append(clients);
        if (slots != 8) c.append(" --slots ").append(slots);
        if (store != null) c.append(" --store postgresql://...");
        for (String o : jvmOptions) c.append(" --jvm-option=").append(o);
        if (json) c.append(" --json");
        return c.toString();
    }

    void printTable(PrintWriter out, List<Run> runs, String storeDescription) {
        out.println("Kiln bench replicas: " + BenchCommand.machine());
        out.println("store: " + storeDescription);
        out.println("command: " + command());
        out.println("nodes: " + nodes + " kiln node processes (noop, " + slots + " slots each); clients: " + clients
                + " keep-alive, jobs round-robin over the replicas (POST /jobs, then GET /jobs/{id}?wait=30 on the "
                + "same replica)");
        out.println("floor: GET /health on replica 1, same clients and connections, just before the jobs; "
                + "ratio = figure / floor");
        out.println();
        out.printf("%-8s %-9s %8s %8s %8s %8s %8s %8s %9s %9s %9s %7s  %s%n", "REPLICAS", "NODES", "JOBS/S",
                "/FLOOR", "P50 ms", "/FLOOR", "P99 ms", "/FLOOR", "FLOOR/s", "FLOOR p50", "FLOOR p99", "FAILED",
                "FAILOVER");
        for (Run r : runs) {
            out.printf("%-8d %-9s %8s %8s %8s %8s %8s %8s %9s %9s %9s %7d  %s%n", r.replicas(),
                    String.join("/", r.nodesPerReplica().stream().map(String::valueOf).toList()),
                    Figure.format(r.jobsPerSecond()), Figure.format(r.throughputRatio()), Figure.format(r.p50Ms()),
                    Figure.format(r.p50Ratio()), Figure.format(r.p99Ms()), Figure.format(r.p99Ratio()),
                    Figure.format(r.floorPerSecond()), Figure.format(r.floorP50Ms()),
                    Figure.format(r.floorP99Ms()), r.failedJobs(), failoverCell(r.failover()));
        }
        out.println();
        out.println("NODES: nodes connected to each replica (replica 1/2/...). JOBS/S: " + jobs + " jobs, first "
                + "submit to last result; /FLOOR: that over GET /health answers/s (a job takes at least two "
                + "requests). P50/P99: submit sent -> terminal answer, per job.");
        for (Run r : runs) {
            out.println("replicas " + r.replicas() + ", failover: " + r.failover().outcome().replace('_', ' ')
                    + (r.failover().note() == null ? "" : " (" + r.failover().note() + ")")
                    + (Double.isNaN(r.failover().reconnectMillis()) ? ""
                    : "; node listed connected by a survivor within " + Figure.format(r.failover().reconnectMillis())
                    + " ms (GET /nodes every 50 ms)"));
        }
        out.flush();
    }

    private static String failoverCell(Failover f) {
        return switch (f.outcome()) {
            case "measured" -> Figure.format(f.millis()) + " ms";
            case "timed_out" -> "not within limit";
            case "not_applicable" -> "n/a";
            default -> "not measured";
        };
    }

    private void printJson(PrintWriter out, List<Run> runs, String storeDescription) {
        ObjectNode root = mapper.createObjectNode();
        root.put("machine", BenchCommand.machine());
        root.put("store", storeDescription);
        root.put("command", command());
        root.put("nodes", nodes).put("slots_per_node", slots).put("clients", clients).put("jobs", jobs);
        root.put("measures", "jobs/s: jobs / (first submit -> last terminal answer); p50/p99: POST /jobs sent -> "
                + "terminal GET /jobs/{id}?wait=30 answer on the same replica; floor: GET /health on replica 1 "
                + "from the same clients just before; ratio = figure / floor");
        ArrayNode list = root.putArray("runs");
        for (Run r : runs) {
            ObjectNode o = list.addObject();
            o.put("replicas", r.replicas()).put("nodes", r.nodes()).put("orchestrator_list", r.orchestratorList());
            r.nodesPerReplica().forEach(o.putArray("nodes_per_replica")::add);
            o.put("jobs", r.jobs()).put("clients", r.clients()).put("failed_jobs", r.failedJobs());
            number(o, "jobs_per_s", r.jobsPerSecond());
            number(o, "p50_ms", r.p50Ms());
            number(o, "p99_ms", r.p99Ms());
            ObjectNode floor = o.putObject("floor");
            floor.put("what", "GET /health on replica 1").put("requests", r.floorRequests())
                    .put("failed", r.floorFailures());
            number(floor, "requests_per_s", r.floorPerSecond());
            number(floor, "p50_ms", r.floorP50Ms());
            number(floor, "p99_ms", r.floorP99Ms());
            ObjectNode ratio = o.putObject("ratio_to_floor");
            number(ratio, "jobs_per_s", r.throughputRatio());
            number(ratio, "p50", r.p50Ratio());
            number(ratio, "p99", r.p99Ratio());
            Failover f = r.failover();
            ObjectNode fo = o.putObject("failover");
            fo.put("outcome", f.outcome());
            number(fo, "ms", f.millis());
            number(fo, "reconnect_ms", f.reconnectMillis());
            if (f.node() != null) fo.put("node", f.node()).put("killed_replica", f.killed()).put("via_replica", f.via());
            if (f.note() != null) fo.put("note", f.note());
        }
        out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        out.flush();
    }

    private static void number(ObjectNode o, String key, double v) {
        if (Double.isNaN(v)) o.putNull(key); else o.put(key, Math.round(v * 1000) / 1000.0);
    }

    private void progress(PrintWriter out, String line) {
        if (json) return;
        out.println(line);
        out.flush();
    }
}
