package dev.kiln.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code kiln bench replicas} end to end on tiny sizes: a PostgreSQL of the bench's own (zonky's binaries, on the test
 * class path through kiln-testing), a real {@code kiln server} and {@code kiln node} process. Checks the report's
 * shape and that every job succeeded and nothing was left running; speed is judged by the bench, not here.
 */
class ReplicasBenchSmokeTest {
    @Test
    @Timeout(value = 75, unit = TimeUnit.SECONDS)
    void oneReplicaOneNodeReportsJobsFloorRatiosAndFailover() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new ReplicasBench());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute("--replicas", "1", "--nodes", "1", "--jobs", "200", "--json",
                "--jvm-option=-XX:TieredStopAtLevel=1", "--jvm-option=-Xmx256m");
        assertThat(code).as("exit code; stderr:\n%s\nstdout:\n%s", err, out).isZero();

        JsonNode root = new JsonMapper().readTree(out.toString());
        assertThat(root.path("store").asString()).contains("PostgreSQL", "fsync");
        assertThat(root.path("command").asString()).startsWith("kiln bench replicas --replicas 1 --nodes 1 --jobs 200");
        assertThat(root.path("runs")).hasSize(1);
        JsonNode run = root.path("runs").get(0);
        assertThat(run.path("replicas").asInt()).isEqualTo(1);
        assertThat(run.path("nodes").asInt()).isEqualTo(1);
        assertThat(run.path("nodes_per_replica").get(0).asInt()).isEqualTo(1);
        assertThat(run.path("jobs").asInt()).isEqualTo(200);
        assertThat(run.path("failed_jobs").asInt()).isZero();
        for (String f : List.of("jobs_per_s", "p50_ms", "p99_ms")) {
            assertThat(run.path(f).asDouble()).as(f).isPositive();
        }
        assertThat(run.path("p99_ms").asDouble()).isGreaterThanOrEqualTo(run.path("p50_ms").asDouble());
        JsonNode floor = run.path("floor");
        assertThat(floor.path("what").asString()).contains("GET /health");
        assertThat(floor.path("failed").asInt()).isZero();
        for (String f : List.of("requests_per_s", "p50_ms", "p99_ms")) {
            assertThat(floor.path(f).asDouble()).as("floor " + f).isPositive();
        }
        JsonNode ratio = run.path("ratio_to_floor");
        assertThat(ratio.path("jobs_per_s").asDouble())
                .isCloseTo(run.path("jobs_per_s").asDouble() / floor.path("requests_per_s").asDouble(),
                        org.assertj.core.data.Percentage.withPercentage(1));
        assertThat(ratio.path("p50").asDouble()).isPositive();
        assertThat(ratio.path("p99").asDouble()).isPositive();
        assertThat(run.path("failover").path("outcome").asString()).isEqualTo("not_applicable");

        // every process it started is gone, and so is its PostgreSQL
        assertThat(ProcessHandle.current().descendants().filter(ProcessHandle::isAlive)
                .map(p -> p.info().commandLine().orElse(""))
                .filter(c -> c.contains("dev.kiln.cli.Main") || c.contains("kiln-bench-pg")).toList()).isEmpty();
        try (var left = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            assertThat(left.map(p -> p.getFileName().toString()))
                    .noneMatch(n -> n.startsWith("kiln-bench-replicas-logs-"));
        }
    }

    @Test
    void theTableHasARowPerReplicaCountWithRatiosAndFailover() {
        ReplicasBench bench = new ReplicasBench();
        new CommandLine(bench).parseArgs("--replicas", "1,2", "--jobs", "100");
        StringWriter s = new StringWriter();
        List<ReplicasBench.Run> runs = List.of(
                new ReplicasBench.Run(1, 3, List.of(3), false, 100, 16, 300, 40, 120, 0, 2_000, 5, 20, 1_000, 0,
                        ReplicasBench.Failover.skipped("not_applicable", "one replica")),
                new ReplicasBench.Run(2, 3, List.of(2, 1), true, 100, 16, 200, 60, 200, 0, 2_000, 5, 40, 1_000, 0,
                        new ReplicasBench.Failover("measured", 850, 400, "n1", 1, 2, "via 2")));
        bench.printTable(new PrintWriter(s), runs, "store");
        String table = s.toString();
        assertThat(table).contains("command: kiln bench replicas --replicas 1,2 --nodes 3 --jobs 100 --clients 16");
        assertThat(table).containsPattern("(?m)^1 +3 +300 +0\\.15 +40\\.0 +8\\.00 +120 +6\\.00 .* n/a$");
        assertThat(table).containsPattern("(?m)^2 +2/1 +200 +0\\.10 +60\\.0 +12\\.0 +200 +5\\.00 .* 850 ms$");
        assertThat(table).contains("replicas 2, failover: measured (via 2); node listed connected by a survivor "
                + "within 400 ms (GET /nodes every 50 ms)");
    }

    @Test
    void aStoreThatHoldsTablesIsRefusedUnlessWiped() throws Exception {
        try (TestDatabase db = TestPostgres.shared().newDatabase("bench_store")) {
            try (Connection c = db.connect(); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE precious (id INT)");
            }
            assertThatThrownBy(() -> ReplicaStore.external(db.storeUrl(), false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("precious")
                    .hasMessageContaining("--wipe-store").hasMessageNotContaining(db.password());
            try (ReplicaStore store = ReplicaStore.external(db.storeUrl(), true)) {
                assertThat(store.fresh(1)).isEqualTo(db.storeUrl());
                assertThat(store.describe()).doesNotContain(db.password());
                try (Connection c = db.connect(); Statement s = c.createStatement();
                     ResultSet r = s.executeQuery("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")) {
                    r.next();
                    assertThat(r.getInt(1)).isZero();
                }
            }
        }
    }
}
