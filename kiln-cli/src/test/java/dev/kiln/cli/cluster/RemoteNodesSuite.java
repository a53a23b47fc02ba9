package dev.kiln.cli.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnClient;
import dev.kiln.client.KilnApiException;
import dev.kiln.core.JobStatus;
import dev.kiln.store.SqliteJobStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Remote compute nodes as separate processes dialing an orchestrator process on loopback, over one transport (the
 * subclasses run the same suite over WebSocket and long-poll). Sandboxed jobs need bwrap and root.
 */
abstract class RemoteNodesSuite {
    @TempDir
    Path dir;
    KilnProcesses kiln;
    String url;
    KilnClient client;
    Path serverData;
    int port;
    Process server;

    /** Extra flags of {@code kiln node} selecting the transport. */
    abstract List<String> transportFlags();

    @BeforeEach
    void startOrchestrator() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name")),
                "needs /usr/bin/bwrap and root for real sandboxes (not available here)");
        kiln = new KilnProcesses(dir);
        port = KilnProcesses.freePort();
        url = "http://127.0.0.1:" + port;
        serverData = dir.resolve("orchestrator");
        Files.writeString(dir.resolve("kiln.yaml"), "max_attempts: 3\n");
        server = startServer("orchestrator");
        kiln.awaitHealthy(url, server, "orchestrator");
        client = new KilnClient(url);
    }

    Process startServer(String log) throws Exception {
        return kiln.server(serverData, port, log, "--local-node", "false", "--config",
                dir.resolve("kiln.yaml").toString());
    }

    @AfterEach
    void stop() throws Exception {
        if (kiln != null) kiln.close(); // also removes what nodes killed with SIGKILL left
    }

    Process node(String id, String... flags) throws Exception {
        List<String> args = new ArrayList<>(List.of("--node-id", id, "--executor", "bwrap"));
        args.addAll(List.of(flags));
        args.addAll(transportFlags());
        // Each node has its own cgroup parent, so two nodes on one host never share (or delete) each other's.
        return kiln.node(url, dir.resolve("node-" + id), id, args.toArray(String[]::new));
    }

    void awaitConnected(String... ids) {
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                .until(() -> {
                    for (String id : ids) {
                        if (!client.node(id).get("status").asString().equals("ready")) return false;
                    }
                    return true;
                });
    }

    JobResponse await(String jobId) {
        Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50))
                .until(() -> client.get(jobId, 5).isTerminal());
        return client.get(jobId, 0);
    }

    @Test
    void jobsRunOnlyOnNodesWhoseLabelsMatchTheirConstraints() throws Exception {
        node("zone-a", "--labels", "zone=a", "--slots", "1");
        node("zone-b", "--labels", "zone=b,ssd=true", "--slots", "1");
        awaitConnected("zone-a", "zone-b");

        JobResponse onB = client.submit(JobRequest.python("print('b')").withConstraints("zone=b"));
        JobResponse onA = client.submit(JobRequest.python("print('a')").withConstraints("zone!=b"));
        JobResponse ssd = client.submit(JobRequest.python("print('ssd')").withConstraints("ssd exists"));
        JobResponse gpu = client.submit(JobRequest.python("print('gpu')").withConstraints("gpu=true"));

        assertThat(await(onB.jobId())).satisfies(j -> {
            assertThat(j.status()).as(j.stderr()).isEqualTo("succeeded");
            assertThat(j.stdout()).isEqualTo("b\n");
            assertThat(j.nodeId()).isEqualTo("zone-b");
        });
        assertThat(await(onA.jobId()).nodeId()).isEqualTo("zone-a");
        assertThat(await(ssd.jobId()).nodeId()).isEqualTo("zone-b");
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() ->
                "2 nodes, 0 match gpu=true".equals(client.get(gpu.jobId(), 0).queueReason()));
        JsonNode nodes = client.nodes();
        assertThat(nodes).hasSize(2);
        assertThat(client.node("zone-b").get("labels").get("zone").asString()).isEqualTo("b");
        assertThat(client.node("zone-b").get("kind").asString()).isEqualTo("remote");
        assertThat(client.node("zone-b").get("labels").has("arch")).as("automatic labels").isTrue();
    }

    @Test
    void aJobWaitingForCapacityStartsAsSoonAsASlotFrees() throws Exception {
        node("single", "--slots", "1");
        awaitConnected("single");
        JobResponse first = client.submit(JobRequest.python("import time\ntime.sleep(1)\nprint('first')"));
        Awaitility.await().until(() -> client.get(first.jobId(), 0).status().equals("running"));
        JobResponse second = client.submit(JobRequest.python("print('second')"));
        assertThat(client.get(second.jobId(), 0).status()).isEqualTo("queued");

        JobResponse a = await(first.jobId());
        JobResponse b = await(second.jobId());
        assertThat(b.status()).isEqualTo("succeeded");
        long gapMs = Duration.between(Instant.parse(a.finishedAt()), Instant.parse(b.startedAt())).toMillis();
        // Event-driven: the returned credit places the waiting job at once (generous bound; not a benchmark).
        assertThat(Math.abs(gapMs)).as("ms between the slot freeing and the next start").isLessThanOrEqualTo(50);
    }

    @Test
    void aNodeKilledMidJobHandsTheJobToAnotherNodeExactlyOnce() throws Exception {
        Process victim = node("first", "--slots", "1");
        awaitConnected("first");
        JobResponse job = client.submit(JobRequest.python("import time\ntime.sleep(2)\nprint('done')"));
        Awaitility.await().until(() -> client.get(job.jobId(), 0).status().equals("running"));
        assertThat(client.get(job.jobId(), 0).nodeId()).isEqualTo("first");
        node("second", "--slots", "1");
        awaitConnected("second");
        KilnProcesses.kill9(victim);
        long killed = System.nanoTime();
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                .until(() -> client.node("first").get("status").asString().equals("lost"));
        assertThat((System.nanoTime() - killed) / 1e9).as("seconds until the node was declared lost").isLessThan(5.0);

        JobResponse done = await(job.jobId());
        assertThat(done.status()).as(done.stderr()).isEqualTo("succeeded");
        assertThat(done.stdout()).isEqualTo("done\n");
        assertThat(done.nodeId()).isEqualTo("second");
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(client.node("first").get("status").asString()).isEqualTo("lost");
        assertThat((System.nanoTime() - killed) / 1e9).as("seconds from kill to the re-run's end").isLessThan(30);
        assertThat(kiln.metric(url, "kiln_node_leases_expired_total", ".*")).isEqualTo(1.0);
        assertThat(kiln.metric(url, "kiln_jobs_finished_total", ".*")).as("one terminal result").isEqualTo(1.0);
    }

    @Test
    void aNodeRestartedWithTheSameIdReconcilesAtOnce() throws Exception {
        Process first = node("phoenix", "--slots", "1");
        awaitConnected("phoenix");
        JobResponse job = client.submit(JobRequest.python("import time\ntime.sleep(2)\nprint('done')"));
        Awaitility.await().until(() -> client.get(job.jobId(), 0).status().equals("running"));
        KilnProcesses.kill9(first);
        node("phoenix", "--slots", "1"); // same data dir: same id; it holds nothing now
        JobResponse done = await(job.jobId());
        assertThat(done.status()).as(done.stderr()).isEqualTo("succeeded");
        assertThat(done.nodeId()).isEqualTo("phoenix");
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(client.node("phoenix").get("connections").asInt()).isEqualTo(2);
        assertThat(kiln.metric(url, "kiln_node_reconnects_total", ".*")).isEqualTo(1.0);
        assertThat(kiln.metric(url, "kiln_jobs_finished_total", ".*")).isEqualTo(1.0);
    }

    @Test
    void anOrchestratorRestartLosesNothingAndRunsNothingTwice() throws Exception {
        node("n1", "--slots", "2");
        node("n2", "--slots", "2");
        awaitConnected("n1", "n2");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            ids.add(client.submit(JobRequest.python("import time\ntime.sleep(0.4)\nprint(" + i + ")")).jobId());
        }
        Awaitility.await().until(() -> ids.stream().anyMatch(id -> client.get(id, 0).status().equals("running")));
        KilnProcesses.kill9(server);
        int finishedBefore = 0;
        try (SqliteJobStore store = SqliteJobStore.open(serverData)) { // what the dead orchestrator had recorded
            for (JobStatus s : JobStatus.terminal()) finishedBefore += store.findByStatus(s, 100).size();
        }
        server = startServer("orchestrator-2");
        kiln.awaitHealthy(url, server, "orchestrator-2");
        for (int i = 0; i < ids.size(); i++) {
            JobResponse j = await(ids.get(i));
            assertThat(j.status()).as(j.jobId() + " " + j.error()).isEqualTo("succeeded");
            assertThat(j.stdout()).isEqualTo(i + "\n");
            assertThat(j.attempt()).isBetween(1, 2);
        }
        // Exactly once: the restarted orchestrator recorded one terminal result per job it had left to finish.
        assertThat(kiln.metric(url, "kiln_jobs_finished_total", ".*")).isEqualTo(ids.size() - finishedBefore);
        awaitConnected("n1", "n2");
        // The restarted orchestrator knows the nodes only from their new handshakes.
        assertThat(kiln.log("orchestrator-2")).contains("node n1 joined").contains("node n2 joined");
    }

    @Test
    void whatAJobPrintsFlowsBackWhileItRuns() throws Exception {
        node("talker", "--slots", "1");
        awaitConnected("talker");
        JobResponse job = client.submit(JobRequest.python(
                "import time\nprint('early', flush=True)\ntime.sleep(1.5)\nprint('late')"));
        java.net.http.HttpResponse<java.util.stream.Stream<String>> r = java.net.http.HttpClient.newHttpClient()
                .send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url + "/jobs/" + job.jobId()
                        + "/output")).build(), java.net.http.HttpResponse.BodyHandlers.ofLines());
        String statusAtEarly = null;
        StringBuilder all = new StringBuilder();
        for (String line : (Iterable<String>) r.body()::iterator) {
            all.append(line).append('\n');
            if (statusAtEarly == null && line.contains("early")) statusAtEarly = client.get(job.jobId(), 0).status();
            if (line.startsWith("event: end")) break;
        }
        assertThat(statusAtEarly).as("the first line arrived while the job ran on the node").isEqualTo("running");
        assertThat(all.toString()).contains("late").contains("event: end");
        assertThat(await(job.jobId()).stdout()).isEqualTo("early\nlate\n");
    }

    @Test
    void aNodeBuildsJobTypeLayersFromItsOwnWheelDirectory() throws Exception {
        // No network here: the node can build the type's layer only from the wheel directory it is given.
        Path wheels = Files.createDirectories(Path.of("/var/tmp/kiln-it-wheels-" + port));
        try {
            Files.setPosixFilePermissions(wheels, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            dev.kiln.sandbox.TestWheels.write(wheels, "kilnpkga", "1.0",
                    java.util.Map.of("kilnpkga/__init__.py", "VALUE = 41\n"), List.of());
            client.putJobType("pkg", java.util.Map.of("requirements", List.of("kilnpkga==1.0")));
            node("builder", "--slots", "1", "--pip-find-links", wheels.toString(), "--pip-no-index");
            awaitConnected("builder");

            JobResponse done = await(client.submit(JobRequest.python("import kilnpkga\nprint(kilnpkga.VALUE + 1)")
                    .withJobType("pkg")).jobId());
            assertThat(done.status()).as(done.stderr() + " " + done.error()).isEqualTo("succeeded");
            assertThat(done.stdout()).isEqualTo("42\n");
            assertThat(done.nodeId()).isEqualTo("builder");
        } finally {
            try (var tree = Files.walk(wheels)) {
                tree.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void aDrainedNodeFinishesItsWorkAndTakesNoMore() throws Exception {
        node("keep", "--slots", "1");
        node("drain-me", "--slots", "1");
        awaitConnected("keep", "drain-me");
        client.drainNode("drain-me");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 4; i++) ids.add(client.submit(JobRequest.python("print(" + i + ")")).jobId());
        for (String id : ids) assertThat(await(id).nodeId()).isEqualTo("keep");
        assertThat(client.node("drain-me").get("status").asString()).isEqualTo("drained");
    }

    @Test
    void aRemovedNodeIsToldToStopAndForgotten() throws Exception {
        Process p = node("gone", "--slots", "1");
        awaitConnected("gone");
        client.deleteNode("gone");
        assertThat(p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)).as("the agent exits").isTrue();
        assertThat(client.nodes()).isEmpty();
        try {
            client.node("gone");
            throw new AssertionError("expected 404");
        } catch (KilnApiException e) {
            assertThat(e.status()).isEqualTo(404);
        }
    }

}
