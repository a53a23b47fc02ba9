package dev.kiln.cli.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.client.JobRequest;
import dev.kiln.client.KilnClient;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * db-scheduler's cluster test, for Kiln: three orchestrator replicas on one PostgreSQL, three node processes that
 * know every replica, 20,000 noop jobs submitted across the replicas, while one replica and one node are killed
 * with SIGKILL and restarted. Every accepted job ends succeeded, none has two succeeded executions, and the store
 * holds exactly the jobs that were accepted (each submission carries an idempotency key, and one whose answer was
 * lost with its replica is sent again to another replica with the same key).
 */
class ReplicaClusterTest {
    private static final Logger log = LoggerFactory.getLogger(ReplicaClusterTest.class);
    private static final int JOBS = Integer.getInteger("kiln.cluster.jobs", 20_000);
    private static final int REPLICAS = 3;
    private static final int NODES = 3;

    @TempDir
    Path dir;

    @Test
    @Timeout(600)
    void twentyThousandJobsThroughThreeReplicasOneOfThemKilled() throws Exception {
        try (TestDatabase db = TestPostgres.shared().newDatabase("replicas");
             KilnProcesses kiln = new KilnProcesses(dir)) {
            Files.writeString(dir.resolve("kiln.yaml"), "max_attempts: 50\nmax_queue_size: 100000\n");
            int[] ports = new int[REPLICAS];
            String[] urls = new String[REPLICAS];
            Process[] replicas = new Process[REPLICAS];
            for (int i = 0; i < REPLICAS; i++) {
                ports[i] = KilnProcesses.freePort();
                urls[i] = "http://127.0.0.1:" + ports[i];
                replicas[i] = startReplica(kiln, db, i, ports[i]);
            }
            for (int i = 0; i < REPLICAS; i++) kiln.awaitHealthy(urls[i], replicas[i], "replica-" + i);
            Process[] nodes = new Process[NODES];
            for (int i = 0; i < NODES; i++) nodes[i] = startNode(kiln, urls, i);

            AtomicInteger next = new AtomicInteger();
            AtomicInteger resent = new AtomicInteger();
            Thread chaos = Thread.ofPlatform().name("chaos").start(() -> {
                try {
                    Thread.sleep(4000);
                    log.info("killing replica 0 and node 1");
                    KilnProcesses.kill9(replicas[0]);
                    KilnProcesses.kill9(nodes[1]);
                    Thread.sleep(3000);
                    replicas[0] = startReplica(kiln, db, 0, ports[0]);
                    nodes[1] = startNode(kiln, urls, 1);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try (ExecutorService submitters = Executors.newFixedThreadPool(6)) {
                List<Future<?>> futures = new ArrayList<>();
                for (int t = 0; t < 6; t++) {
                    futures.add(submitters.submit(() -> {
                        KilnClient[] clients = new KilnClient[REPLICAS];
                        for (int r = 0; r < REPLICAS; r++) clients[r] = new KilnClient(urls[r]);
                        int n;
                        while ((n = next.getAndIncrement()) < JOBS) submit(clients, n, resent);
                        return null;
                    }));
                }
                for (Future<?> f : futures) f.get();
            }
            chaos.join();
            log.info("{} jobs accepted ({} submissions sent again to another replica)", JOBS, resent.get());

            try {
                Awaitility.await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofSeconds(1))
                        .until(() -> count(db, "SELECT count(*) FROM jobs WHERE status IN "
                                + "('succeeded', 'failed', 'timeout', 'oom', 'cancelled')") >= JOBS);
            } catch (org.awaitility.core.ConditionTimeoutException e) {
                StringBuilder why = new StringBuilder("not every job ended; by status: ");
                try (Connection c = db.connect(); Statement st = c.createStatement();
                     ResultSet rs = st.executeQuery("SELECT status, node_id, count(*) FROM jobs "
                             + "WHERE status NOT IN ('succeeded') GROUP BY status, node_id")) {
                    while (rs.next()) why.append(rs.getString(1)).append('@').append(rs.getString(2)).append('=')
                            .append(rs.getLong(3)).append(' ');
                }
                for (String name : new String[]{"replica-0", "replica-1", "replica-2", "node-0", "node-1", "node-2"}) {
                    String text = kiln.log(name);
                    why.append("\n--- ").append(name).append(" (last 3000 chars) ---\n")
                            .append(text.substring(Math.max(0, text.length() - 3000)));
                }
                throw new AssertionError(why.toString(), e);
            }
            Thread.sleep(1000); // a straggling duplicate would be recorded by now

            assertThat(count(db, "SELECT count(*) FROM jobs")).as("jobs stored = jobs accepted").isEqualTo(JOBS);
            assertThat(count(db, "SELECT count(*) FROM jobs WHERE status = 'succeeded'")).isEqualTo(JOBS);
            assertThat(count(db, "SELECT count(*) FROM (SELECT job_id FROM executions WHERE status = 'succeeded' "
                    + "GROUP BY job_id HAVING count(*) > 1) twice")).as("jobs with two succeeded executions").isZero();
            assertThat(count(db, "SELECT count(*) FROM executions WHERE status = 'running'")).isZero();
            long interrupted = count(db, "SELECT count(*) FROM executions WHERE status = 'interrupted'");
            log.info("{} executions were taken back and run again", interrupted);
        }
    }

    /** One job, keyed; sent to the next replica, with the same key, while a replica does not answer. */
    private static void submit(KilnClient[] clients, int n, AtomicInteger resent) throws InterruptedException {
        JobRequest job = JobRequest.python("pass").withIdempotencyKey("cluster-" + n);
        for (int attempt = 0; ; attempt++) {
            try {
                clients[(n + attempt) % clients.length].submit(job);
                return;
            } catch (RuntimeException unreachable) {
                resent.incrementAndGet();
                if (attempt > 50) throw unreachable;
                Thread.sleep(20);
            }
        }
    }

    private Process startReplica(KilnProcesses kiln, TestDatabase db, int i, int port) throws java.io.IOException {
        return kiln.server(dir.resolve("replica-" + i), port, "replica-" + i, "--local-node", "false", "--store",
                db.storeUrl(), "--config", dir.resolve("kiln.yaml").toString());
    }

    /** Node i knows every replica, replica i first, so the nodes spread over the replicas. */
    private Process startNode(KilnProcesses kiln, String[] urls, int i) throws java.io.IOException {
        List<String> order = new ArrayList<>();
        for (int r = 0; r < urls.length; r++) order.add(urls[(i + r) % urls.length]);
        return kiln.node(String.join(",", order), dir.resolve("node-" + i), "node-" + i, "--node-id", "node-" + i,
                "--executor", "noop", "--slots", "4");
    }

    private static long count(TestDatabase db, String sql) throws Exception {
        try (Connection c = db.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
