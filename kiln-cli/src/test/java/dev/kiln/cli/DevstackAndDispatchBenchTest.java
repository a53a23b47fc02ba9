package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnClient;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code kiln devstack} as a real process with real node agents, and the dispatch and nodes benches on tiny sizes.
 * Figures are not judged here (that is what `kiln bench` is for): only that they are produced.
 */
class DevstackAndDispatchBenchTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;

    @Test
    void devstackRunsJobsOnThreeRemoteNoopNodes() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String url = "http://127.0.0.1:" + port;
        Path log = dir.resolve("devstack.log");
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "devstack", "--nodes", "3", "--executor", "noop", "--port", String.valueOf(port), "--data-dir",
                dir.resolve("stack").toString()).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().remove("KILN_CONFIG");
        Process devstack = pb.start();
        HttpClient http = HttpClient.newHttpClient();
        try {
            Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .ignoreExceptions().until(() -> remoteReadyNodes(http, url).size() == 3);
            assertThat(remoteReadyNodes(http, url)).containsExactlyInAnyOrder("devstack-1", "devstack-2",
                    "devstack-3");
            assertThat(Files.isDirectory(dir.resolve("stack/nodes/node-2"))).isTrue();

            KilnClient client = new KilnClient(url);
            List<Future<JobResponse>> runs = new ArrayList<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(5)) {
                for (int i = 0; i < 50; i++) runs.add(pool.submit(() -> client.execute(JobRequest.python("pass"))));
                for (Future<JobResponse> r : runs) {
                    JobResponse job = r.get(60, TimeUnit.SECONDS);
                    assertThat(job.success()).as("job %s: %s", job.jobId(), job.error()).isTrue();
                }
            }
            JsonNode nodes = JSON.readTree(get(http, url + "/nodes"));
            assertThat(nodes.size()).isEqualTo(3);
            for (JsonNode n : nodes) {
                assertThat(n.get("kind").asString()).isEqualTo("remote");
                assertThat(n.get("transport").asString()).isEqualTo("ws");
            }
            assertThat(Files.readString(log)).contains("Kiln devstack: API " + url, "node devstack-3");
        } finally {
            devstack.destroy(); // SIGTERM: the shutdown hook closes the agents, then the orchestrator
            boolean exited = devstack.waitFor(30, TimeUnit.SECONDS);
            if (!exited) devstack.destroyForcibly().waitFor();
            dev.kiln.node.WorkRoots.discardTree(dir.resolve("stack")); // with the work roots under /var/tmp/kiln
            assertThat(exited).as("devstack stops on SIGTERM; log:\n%s", Files.readString(log)).isTrue();
        }
    }

    @Test
    void dispatchBenchReportsAllThreeTransportsAsJson() throws Exception {
        StringWriter out = new StringWriter();
        int exit = run(out, "bench", "dispatch", "--quick", "--json");
        assertThat(exit).as(out.toString()).isZero();
        JsonNode report = JSON.readTree(out.toString());
        assertThat(report.get("transports").valueStream().map(t -> t.get("transport").asString()).toList())
                .containsExactly("push", "long-poll", "interval-poll 1 s");
        for (JsonNode t : report.get("transports")) {
            assertThat(t.get("samples").asInt()).isPositive();
            assertThat(t.get("failed_jobs").asInt()).isZero();
            assertThat(t.get("p50_ms").asDouble()).isPositive();
            assertThat(t.get("p99_ms").asDouble()).isGreaterThanOrEqualTo(t.get("p50_ms").asDouble());
        }
        assertThat(report.get("transports").get(0).has("goal_p50_ms")).isTrue();
    }

    @Test
    void nodesBenchPrintsCpuAndRssOfTheOrchestratorProcess() throws Exception {
        StringWriter out = new StringWriter();
        int exit = run(out, "bench", "nodes", "--nodes", "50", "--settle-seconds", "1", "--idle-seconds", "2",
                "--jobs", "200");
        String text = out.toString();
        assertThat(exit).as(text).isZero();
        assertThat(text).contains("nodes connected", "connect time, all nodes", "idle CPU, % of one core",
                "idle CPU, % of all", "RSS, nodes connected", "dispatch p50 (histogram)", "dispatch p99 (histogram)",
                "submit answered->execute p50", "kiln_dispatch_latency_seconds_bucket");
        assertThat(figure(text, "nodes connected")).isEqualTo(50);
        assertThat(figure(text, "RSS, nodes connected")).isPositive();
        assertThat(figure(text, "idle CPU, % of one core")).isGreaterThanOrEqualTo(0);
        assertThat(figure(text, "jobs not dispatched")).isZero();
    }

    private static int run(StringWriter out, String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        return cl.execute(args);
    }

    /** The VALUE column of a row of the bench table. */
    private static double figure(String table, String name) {
        for (String line : table.split("\n")) {
            if (line.startsWith("nodes     " + name + " ")) {
                return Double.parseDouble(line.substring(10 + 28).trim().split("\\s+")[0]);
            }
        }
        throw new AssertionError("no figure '" + name + "' in:\n" + table);
    }

    private static List<String> remoteReadyNodes(HttpClient http, String url) throws Exception {
        List<String> ids = new ArrayList<>();
        for (JsonNode n : JSON.readTree(get(http, url + "/nodes"))) {
            if (n.get("kind").asString().equals("remote") && n.get("status").asString().equals("ready")) {
                ids.add(n.get("id").asString());
            }
        }
        return ids;
    }

    private static String get(HttpClient http, String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("GET %s: %s", url, r.body()).isEqualTo(200);
        return r.body();
    }
}
