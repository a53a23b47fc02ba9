package dev.kiln.cli.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnClient;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Orchestrator and nodes as real processes on loopback when the orchestrator, or the way to it, goes away: a node
 * moves along its list of orchestrator URLs without losing or repeating work; a node cut off past its lease stops its
 * job, which runs again once, at once, when the orchestrator is back; an orchestrator paused past the lease (SIGSTOP)
 * declares no node lost.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class NodeFailoverTest {
    @TempDir
    Path dir;
    private KilnProcesses kiln;
    private int port;
    private String url;
    private KilnClient client;
    private Process server;

    @BeforeEach
    void start() throws Exception {
        kiln = new KilnProcesses(dir);
        port = KilnProcesses.freePort();
        url = "http://127.0.0.1:" + port;
        // A long reconnect grace: a job re-run at once after a restart is told apart from one re-run after it.
        Files.writeString(dir.resolve("kiln.yaml"), "max_attempts: 3\nnode_reconnect_grace: 60\n");
        server = startServer("orchestrator");
        client = new KilnClient(url);
    }

    private Process startServer(String log) throws Exception {
        Process p = kiln.server(dir.resolve("orchestrator"), port, log, "--local-node", "false", "--config",
                dir.resolve("kiln.yaml").toString());
        kiln.awaitHealthy(url, p, log);
        return p;
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null && server.isAlive()) signal("CONT", server); // never leave it stopped
        if (kiln != null) kiln.close();
    }

    private static void assumeSandboxes() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name")),
                "needs /usr/bin/bwrap and root for real sandboxes (not available here)");
    }

    private Process node(String id, String orchestrators, String executor) throws Exception {
        return kiln.node(orchestrators, dir.resolve("node-" + id), id, "--node-id", id, "--executor", executor,
                "--slots", "1");
    }

    private void awaitLog(String log, String text) {
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                .until(() -> kiln.log(log).contains(text));
    }

    private void awaitReady(String id) {
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                .until(() -> client.node(id).get("status").asString().equals("ready"));
    }

    private JobResponse await(String jobId) {
        Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50))
                .until(() -> client.get(jobId, 5).isTerminal());
        return client.get(jobId, 0);
    }

    /** Reads the job's live output until a line contains {@code text}: the job runs on its node now. */
    private void awaitOutput(String jobId, String text) throws Exception {
        HttpResponse<java.io.InputStream> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(url + "/jobs/" + jobId + "/output")).build(), HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (String line; (line = lines.readLine()) != null; ) {
                if (line.contains(text)) return;
                if (line.startsWith("event: end")) break;
            }
        }
        throw new AssertionError("the job's output ended without '" + text + "'");
    }

    private static void signal(String name, Process p) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + name, String.valueOf(p.pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0).as("kill -" + name).isTrue();
    }

    @Test
    void aNodeMovesToTheNextOrchestratorUrlWithoutLosingOrRepeatingItsResult() throws Exception {
        assumeSandboxes();
        int firstPort = KilnProcesses.freePort(); // nothing listens there yet: refused
        try (TcpRelay second = new TcpRelay(0, port)) {
            node("mover", "http://127.0.0.1:" + firstPort + "," + second.url(), "bwrap");
            awaitReady("mover");
            // The orchestrator marks the node connected as it sends the welcome; the node logs once it reads it.
            awaitLog("mover", "connected to " + second.url());

            try (TcpRelay first = new TcpRelay(firstPort, port)) { // the first URL works from now on
                JobResponse job = client.submit(JobRequest.python(
                        "import time\nprint('go', flush=True)\ntime.sleep(1)\nprint('done')"));
                awaitOutput(job.jobId(), "go");
                // The result gets through and is recorded, its ack does not: the node still holds the result...
                second.holdWhatTheOrchestratorSends();
                Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                        .until(() -> client.get(job.jobId(), 0).isTerminal());
                // ...when the address it uses goes away.
                second.close();

                Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                        .ignoreExceptions().until(() -> client.node("mover").get("connections").asInt() == 2
                                && client.node("mover").get("status").asString().equals("ready"));
                awaitLog("mover", "connected to " + first.url());
                JobResponse done = client.get(job.jobId(), 0);
                assertThat(done.status()).as(done.stderr()).isEqualTo("succeeded");
                assertThat(done.stdout()).isEqualTo("go\ndone\n");
                assertThat(done.attempt()).isEqualTo(1);

                // Still one terminal result, and the node works on through the first URL.
                JobResponse next = await(client.submit(JobRequest.python("print('next')")).jobId());
                assertThat(next.stdout()).isEqualTo("next\n");
                assertThat(next.nodeId()).isEqualTo("mover");
                assertThat(kiln.metric(url, "kiln_jobs_finished_total", ".*")).isEqualTo(2.0);
                assertThat(kiln.metric(url, "kiln_node_leases_expired_total", ".*")).isZero();
            }
        }
    }

    @Test
    void aNodeCutOffPastItsLeaseStopsItsJobAndTheJobRunsAgainOnceAtOnceWhenTheOrchestratorIsBack()
            throws Exception {
        assumeSandboxes();
        node("fenced", url, "bwrap");
        awaitReady("fenced");
        JobResponse job = client.submit(JobRequest.python(
                "import time\nprint('go', flush=True)\ntime.sleep(8)\nprint('done')"));
        awaitOutput(job.jobId(), "go");

        KilnProcesses.kill9(server);
        long killed = System.nanoTime();
        Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
                .until(() -> kiln.log("fenced").contains("stopped 1 execution(s)"));
        assertThat((System.nanoTime() - killed) / 1e9).as("seconds until the node stopped its job (lease 3 s)")
                .isLessThan(6.0);

        server = startServer("orchestrator-2");
        Instant back = Instant.now();
        JobResponse done = await(job.jobId());
        assertThat(done.status()).as(done.stderr() + " " + done.error()).isEqualTo("succeeded");
        assertThat(done.attempt()).as("the stopped attempt is not the job's failure").isEqualTo(2);
        assertThat(done.stdout()).isEqualTo("go\ndone\n");
        assertThat(Duration.between(back, Instant.parse(done.startedAt())).toMillis())
                .as("ms from the restart to the re-run: not after the 60 s node_reconnect_grace").isLessThan(20_000);
        assertThat(kiln.metric(url, "kiln_jobs_finished_total", ".*")).isEqualTo(1.0);
    }

    @Test
    void anOrchestratorPausedPastTheLeaseDeclaresNoNodeLost() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/kill")) || Files.isExecutable(Path.of("/usr/bin/kill")),
                "needs kill(1) to stop and continue a process");
        node("p1", url, "noop");
        node("p2", url, "noop");
        awaitReady("p1");
        awaitReady("p2");

        signal("STOP", server); // as a long GC pause or a VM steal would
        Thread.sleep(5_000); // past the 3 s lease
        signal("CONT", server);

        // The watcher has looked by the time the orchestrator answers again and both nodes were heard from.
        Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                .until(() -> kiln.metric(url, "kiln_node_leases_expired_total", ".*") > 0
                        || kiln.metric(url, "kiln_node_lease_pauses_total", ".*") >= 1);
        Thread.sleep(500);
        assertThat(kiln.metric(url, "kiln_node_leases_expired_total", ".*")).as("nodes declared lost").isZero();
        assertThat(kiln.metric(url, "kiln_node_lease_pauses_total", ".*")).isEqualTo(1.0);
        awaitReady("p1");
        awaitReady("p2");
        JobResponse job = await(client.submit(JobRequest.python("pass")).jobId());
        assertThat(job.status()).isEqualTo("succeeded");
        assertThat(kiln.metric(url, "kiln_node_leases_expired_total", ".*")).isZero();
        assertThat(kiln.log("orchestrator")).contains("every node gets a fresh lease");
    }
}
