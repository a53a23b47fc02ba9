package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.server.config.ConfigException;
import dev.kiln.server.config.KilnConfig;
import dev.kiln.store.StoreLocation;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

/** A server on a PostgreSQL store: jobs, job types and artifacts outlive it and are shared with another one. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class PostgresStoreServerTest {
    private static TestDatabase database;

    @BeforeAll
    static void createDatabase() {
        database = TestPostgres.shared().newDatabase("server");
    }

    @AfterAll
    static void dropDatabase() {
        database.close();
    }

    @BeforeEach
    void empty() {
        database.reset();
    }

    private static TestServer start(String executor) throws Exception {
        return TestServer.start(executor, c -> c.withStore(StoreLocation.parse(database.storeUrl())));
    }

    @Test
    void jobsAndJobTypesLiveInTheDatabaseNotTheDataDirectory() throws Exception {
        String jobId;
        try (TestServer first = start("noop")) {
            jobId = first.client.execute(JobRequest.python("print(1)")).jobId();
            first.client.putJobType("from-api", Map.of("timeout", 7));
            assertThat(first.dataDir.resolve("kiln.db")).doesNotExist();
            assertThat(first.dataDir.resolve("artifacts")).doesNotExist();
        }
        try (TestServer second = start("noop")) {
            JobResponse job = second.client.get(jobId, 0);
            assertThat(job.status()).isEqualTo("succeeded");
            JsonNode type = second.client.jobType("from-api");
            assertThat(type.path("timeout").asInt()).isEqualTo(7);
        }
    }

    /** Two replicas on one database: an artifact one of them stored is served by the other. */
    @Test
    void everyReplicaServesEveryArtifact() throws Exception {
        assumeTrue(TestServer.bwrapUsable(), "needs /usr/bin/bwrap, root and cgroups to run a job that writes files");
        try (TestServer first = start("bwrap")) {
            JobResponse r = first.client.execute(JobRequest.python(
                    "open('/output/report.txt', 'w').write('from the first replica ✓')"));
            assertThat(r.status()).isEqualTo("succeeded");
            try (TestServer second = start("bwrap")) {
                assertThat(new String(second.client.artifact(r.jobId(), "report.txt"), StandardCharsets.UTF_8))
                        .isEqualTo("from the first replica ✓");
            }
        }
    }

    @Test
    void aRefusedLoginStopsStartUpNamingTheSettingButNotThePassword() throws Exception {
        String wrong = "wrong-" + UUID.randomUUID();
        Path dir = Files.createTempDirectory("kiln-test-");
        KilnConfig config = KilnConfig.defaults().withDataDir(dir).withHost("127.0.0.1").withPort(0)
                .withExecutor("noop").withStore(StoreLocation.parse(database.storeUrl(wrong)));
        try {
            assertThatThrownBy(() -> KilnServer.start(config))
                    .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.field()).isEqualTo("store"))
                    .hasMessageStartingWith("store: cannot connect to postgresql://" + database.user() + ":****@")
                    .hasMessageContaining("password authentication failed")
                    .hasMessageEndingWith("(set by --store, KILN_STORE or store: in kiln.yaml)")
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain(wrong));
        } finally {
            try (var paths = Files.walk(dir)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * Live output through a replica whose nodes do not run the job: it streams while the job runs (the first line
     * arrives while the job is still running), complete and in order, then the end.
     */
    @Test
    void liveOutputStreamsThroughAReplicaThatDoesNotRunTheJob() throws Exception {
        assumeTrue(TestServer.bwrapUsable(), "needs /usr/bin/bwrap, root and cgroups to run a job that prints");
        try (TestServer runs = start("bwrap");
             TestServer follows = TestServer.start("noop", c -> c.withStore(StoreLocation.parse(database.storeUrl()))
                     .withNodes(c.nodes().withLocalNode(false)))) {
            JobResponse job = runs.client.submit(JobRequest.python(
                    "import time\nprint('tick 1', flush=True)\ntime.sleep(2)\nprint('tick 2', flush=True)\n"
                            + "time.sleep(1)\nprint('done')"));
            java.util.concurrent.atomic.AtomicReference<String> statusAtFirstLine = new java.util.concurrent.atomic.AtomicReference<>();
            StringBuilder text = new StringBuilder();
            List<LiveOutputTest.Event> events = LiveOutputTest.follow(follows.server.baseUrl(), job.jobId(), e -> {
                if (e.name().equals("stdout") && statusAtFirstLine.get() == null) {
                    statusAtFirstLine.set(runs.client.get(job.jobId(), 0).status());
                }
            });
            for (LiveOutputTest.Event e : events) {
                if (e.name().equals("stdout")) text.append(JSON.readTree(e.data()).get("text").asString());
            }
            assertThat(statusAtFirstLine.get()).as("the first line arrived while the job ran").isEqualTo("running");
            assertThat(text.toString()).isEqualTo("tick 1\ntick 2\ndone\n");
            assertThat(events.getLast().name()).isEqualTo("end");
            assertThat(events.getLast().data()).contains("succeeded");
        }
    }

    private static final tools.jackson.databind.json.JsonMapper JSON = new tools.jackson.databind.json.JsonMapper();
}
