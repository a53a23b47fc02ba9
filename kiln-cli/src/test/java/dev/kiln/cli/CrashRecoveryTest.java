package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobList;
import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnClient;
import dev.kiln.core.JobStatus;
import dev.kiln.store.SqliteJobStore;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * "A job answered 2xx is never lost": kill -9 a real server process holding 200 accepted jobs, restart it on the
 * same data directory, and every job reaches a terminal state exactly once.
 */
class CrashRecoveryTest {
    private static final int JOBS = 200;

    @TempDir
    Path dir;

    @Test
    void killMinus9With200AcceptedJobsLosesNothingAndReportsNothingTwice() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name")),
                "needs /usr/bin/bwrap and root for real sandboxes (not available here)");
        Path data = dir.resolve("data");
        Files.writeString(dir.resolve("kiln.yaml"),
                "sandbox:\n  cgroup_parent: kiln-crash-" + UUID.randomUUID().toString().substring(0, 8) + "\n");
        int port = freePort();
        String url = "http://127.0.0.1:" + port;
        KilnClient client = new KilnClient(url);

        Process first = startServer(data, port, "first");
        List<String> ids = new ArrayList<>();
        try {
            awaitHealthy(url);
            for (int i = 0; i < JOBS; i++) {
                ids.add(client.submit(JobRequest.python("import time\ntime.sleep(0.05)\nprint('done', " + i + ")"))
                        .jobId());
            }
            Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> terminal(client).size() >= 5);
        } finally {
            first.destroyForcibly(); // SIGKILL: no shutdown hook, no clean close
            first.waitFor();
        }
        // What the dead server had recorded, read from its store: exact, whatever finished just before the kill.
        Map<String, java.time.Instant> before = new HashMap<>();
        try (SqliteJobStore store = SqliteJobStore.open(data)) {
            for (JobStatus s : JobStatus.terminal()) {
                store.findByStatus(s, JOBS).forEach(j -> before.put(j.id(), j.finishedAt()));
            }
            assertThat(store.findByStatus(JobStatus.QUEUED, JOBS).size()
                    + store.findByStatus(JobStatus.RUNNING, JOBS).size())
                    .as("jobs still unfinished at the kill").isPositive();
        }

        Process second = startServer(data, port, "second");
        try {
            awaitHealthy(url);
            Awaitility.await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(500))
                    .until(() -> terminal(client).size() == JOBS);
            Map<String, JobResponse> after = terminal(client);
            assertThat(after.keySet()).containsExactlyInAnyOrderElementsOf(ids);
            for (int i = 0; i < JOBS; i++) {
                JobResponse j = client.get(ids.get(i), 0);
                assertThat(j.status()).as(j.jobId()).isEqualTo("succeeded");
                assertThat(j.stdout()).isEqualTo("done " + i + "\n");
                assertThat(j.attempt()).isBetween(1, 2);
            }
            before.forEach((id, finishedAt) -> assertThat(java.time.Instant.parse(after.get(id).finishedAt()))
                    .as("a finished job is never re-run").isEqualTo(finishedAt));
            // Exactly once: the restarted server recorded one terminal result per job it had left to finish.
            assertThat(finishedCounter(url)).isEqualTo(JOBS - before.size());
        } finally {
            second.destroy();
            second.waitFor();
            dev.kiln.node.WorkRoots.discardFallbackRoot(data); // its work root under /var/tmp/kiln
        }
    }

    private Process startServer(Path data, int port, String name) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "server", "--host", "127.0.0.1",
                "--port", String.valueOf(port), "--data-dir", data.toString(), "--executor", "bwrap",
                "--slots", "2");
        pb.directory(dir.toFile());
        pb.environment().remove("KILN_CONFIG");
        File log = dir.resolve(name + ".log").toFile();
        pb.redirectErrorStream(true).redirectOutput(log);
        return pb.start();
    }

    private static Map<String, JobResponse> terminal(KilnClient client) {
        Map<String, JobResponse> done = new HashMap<>();
        String cursor = null;
        do {
            JobList page = client.list(null, 500, cursor);
            for (JobResponse j : page.jobs()) if (j.isTerminal()) done.put(j.jobId(), j);
            cursor = page.nextCursor();
        } while (cursor != null);
        return done;
    }

    private static long finishedCounter(String url) throws Exception {
        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = Pattern.compile("(?m)^kiln_jobs_finished_total\\{[^}]*} ([0-9.Ee+]+)$").matcher(metrics);
        double sum = 0;
        while (m.find()) sum += Double.parseDouble(m.group(1));
        return Math.round(sum);
    }

    private static void awaitHealthy(String url) {
        HttpClient http = HttpClient.newHttpClient();
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                .until(() -> http.send(HttpRequest.newBuilder(URI.create(url + "/health")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
