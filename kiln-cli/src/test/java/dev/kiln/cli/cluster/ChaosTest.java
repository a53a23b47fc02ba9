package dev.kiln.cli.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.client.JobRequest;
import dev.kiln.client.KilnClient;
import dev.kiln.core.JobStatus;
import dev.kiln.store.SqliteJobStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * 20,000 noop jobs through 5 node processes while one node is killed with SIGKILL every few seconds and restarted:
 * every job ends succeeded, and the orchestrator records exactly one terminal result per job.
 */
class ChaosTest {
    private static final Logger log = LoggerFactory.getLogger(ChaosTest.class);
    private static final int JOBS = 20_000;
    private static final int NODES = 5;

    @TempDir
    Path dir;

    @Test
    void twentyThousandJobsThroughNodesThatKeepDying() throws Exception {
        try (KilnProcesses kiln = new KilnProcesses(dir)) {
            int port = KilnProcesses.freePort();
            String url = "http://127.0.0.1:" + port;
            Path data = dir.resolve("orchestrator");
            // Each kill may cost an in-flight job one attempt; leave room so none runs out by bad luck.
            Files.writeString(dir.resolve("kiln.yaml"), "max_attempts: 50\nmax_queue_size: 100000\n");
            Process server = kiln.server(data, port, "orchestrator", "--local-node", "false", "--config",
                    dir.resolve("kiln.yaml").toString());
            kiln.awaitHealthy(url, server, "orchestrator");
            KilnClient client = new KilnClient(url);
            Process[] nodes = new Process[NODES];
            for (int i = 0; i < NODES; i++) nodes[i] = startNode(kiln, url, i);

            AtomicInteger submitted = new AtomicInteger();
            Thread chaos = Thread.ofPlatform().name("chaos").start(() -> killAndRestart(kiln, url, nodes));
            try (ExecutorService submitters = java.util.concurrent.Executors.newFixedThreadPool(8)) {
                List<Future<?>> futures = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    futures.add(submitters.submit(() -> {
                        while (submitted.getAndIncrement() < JOBS) client.submit(JobRequest.python("pass"));
                        return null;
                    }));
                }
                for (Future<?> f : futures) f.get();
            }
            Awaitility.await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> kiln.metric(url, "kiln_jobs_finished_total", ".*") >= JOBS);
            chaos.interrupt();
            chaos.join();
            Thread.sleep(1000); // any straggling duplicate would be recorded by now

            assertThat(kiln.metric(url, "kiln_jobs_finished_total", "status=\"succeeded\"")).isEqualTo(JOBS);
            assertThat(kiln.metric(url, "kiln_jobs_finished_total", ".*")).as("one terminal result per job")
                    .isEqualTo(JOBS);
            double requeued = kiln.metric(url, "kiln_jobs_requeued_total", ".*");
            double lost = kiln.metric(url, "kiln_node_leases_expired_total", ".*")
                    + kiln.metric(url, "kiln_node_reconnects_total", ".*");
            log.info("chaos: {} jobs, {} re-queued executions, {} node losses/reconnects", JOBS, requeued, lost);
            assertThat(lost).as("the chaos actually happened").isPositive();

            server.destroy();
            server.waitFor();
            try (SqliteJobStore store = SqliteJobStore.open(data)) {
                Map<JobStatus, Long> counts = store.countByStatus();
                assertThat(counts.getOrDefault(JobStatus.SUCCEEDED, 0L)).isEqualTo(JOBS);
                assertThat(counts.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(JOBS);
            }
        }
    }

    private Process startNode(KilnProcesses kiln, String url, int i) throws java.io.IOException {
        return kiln.node(url, dir.resolve("node-" + i), "node-" + i, "--node-id", "node-" + i, "--executor", "noop",
                "--slots", "4");
    }

    private void killAndRestart(KilnProcesses kiln, String url, Process[] nodes) {
        Random random = new Random(42);
        try {
            while (!Thread.currentThread().isInterrupted()) {
                Thread.sleep(2500 + random.nextInt(1500));
                int victim = random.nextInt(NODES);
                KilnProcesses.kill9(nodes[victim]);
                Thread.sleep(random.nextInt(2) == 0 ? 200 : 4000); // quick restart (reconcile) or lost (lease)
                nodes[victim] = startNode(kiln, url, victim);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
