package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.core.JobStatus;
import dev.kiln.store.SqliteJobStore;
import java.nio.file.Path;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A graceful stop never turns accepted work into a cancelled job. */
class GracefulShutdownTest {
    @TempDir
    Path dataDir;

    @BeforeEach
    void needsSandbox() {
        assumeTrue(TestServer.bwrapUsable(), "needs /usr/bin/bwrap, root and cgroups (not available here)");
    }

    private static String startRunning(TestServer kiln, String code) {
        String id = kiln.client.submit(JobRequest.python(code)).jobId();
        Awaitility.await().until(() -> kiln.client.get(id, 0).status().equals("running"));
        return id;
    }

    @Test
    void runningJobsFinishWithinTheGrace() throws Exception {
        String id;
        try (TestServer kiln = TestServer.start("bwrap", c -> c.withDataDir(dataDir).withShutdownGraceSeconds(20))) {
            id = startRunning(kiln, "import time\ntime.sleep(1)\nprint('done')");
        }
        try (SqliteJobStore store = SqliteJobStore.open(dataDir)) {
            var job = store.find(id).orElseThrow();
            assertThat(job.status()).isEqualTo(JobStatus.SUCCEEDED);
            assertThat(job.attempt()).isEqualTo(1);
        }
    }

    @Test
    void jobsStillRunningAfterTheGraceAreRequeuedAndRunAfterRestart() throws Exception {
        String id;
        try (TestServer kiln = TestServer.start("bwrap", c -> c.withDataDir(dataDir).withShutdownGraceSeconds(0))) {
            id = startRunning(kiln, "import time\ntime.sleep(2)\nprint('done')");
        }
        try (SqliteJobStore store = SqliteJobStore.open(dataDir)) {
            assertThat(store.find(id).orElseThrow().status()).isEqualTo(JobStatus.QUEUED);
        }
        try (TestServer kiln = TestServer.start("bwrap", c -> c.withDataDir(dataDir))) {
            JobResponse done = kiln.client.get(id, 30);
            assertThat(done.status()).isEqualTo("succeeded");
            assertThat(done.stdout()).isEqualTo("done\n");
            assertThat(done.attempt()).isEqualTo(2);
        }
    }

    @Test
    void theRetryBudgetHoldsAcrossGracefulRestarts() throws Exception {
        String id;
        try (TestServer kiln = TestServer.start("bwrap", c -> c.withDataDir(dataDir).withShutdownGraceSeconds(0))) {
            id = startRunning(kiln, "import time\ntime.sleep(60)");
        }
        // max_attempts is 2: the second restart finds the job re-queued on its last attempt.
        try (TestServer kiln = TestServer.start("bwrap", c -> c.withDataDir(dataDir).withShutdownGraceSeconds(0))) {
            Awaitility.await().until(() -> kiln.client.get(id, 0).attempt() == 2
                    && kiln.client.get(id, 0).status().equals("running"));
        }
        try (TestServer kiln = TestServer.start("bwrap", c -> c.withDataDir(dataDir))) {
            JobResponse done = kiln.client.get(id, 30);
            assertThat(done.status()).isEqualTo("failed");
            assertThat(done.attempt()).isEqualTo(2);
            assertThat(done.error().message()).contains("attempt 2 of 2").contains("no attempts are left");
            var executions = kiln.client.executions(id).path("executions");
            assertThat(executions).extracting(e -> e.path("status").asString())
                    .containsExactly("interrupted", "interrupted");
        }
    }
}
