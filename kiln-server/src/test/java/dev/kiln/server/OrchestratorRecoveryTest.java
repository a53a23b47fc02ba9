package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.client.JobResponse;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStore;
import dev.kiln.core.NewJob;
import dev.kiln.core.SpecHash;
import dev.kiln.store.SqliteJobStore;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Start-up after a crash: interrupted executions re-run while attempts remain, else fail; queued jobs run. */
class OrchestratorRecoveryTest {
    @TempDir
    Path dataDir;

    @Test
    void interruptedJobsAreRerunOrFailedAndQueuedJobsRun() throws Exception {
        JobSpec spec = JobSpec.python("print('hi')");
        try (JobStore store = SqliteJobStore.open(dataDir)) {
            insert(store, "00000000-0000-7000-8000-00000000000a", spec);
            insert(store, "00000000-0000-7000-8000-00000000000b", spec);
            insert(store, "00000000-0000-7000-8000-00000000000c", spec);
            // a: interrupted on its first attempt; b: interrupted on its last; c: never started
            assertThat(store.markRunning("00000000-0000-7000-8000-00000000000a", 0, 1, "local", Instant.now())).isTrue();
            assertThat(store.markRunning("00000000-0000-7000-8000-00000000000b", 0, 1, "local", Instant.now())).isTrue();
            assertThat(store.requeue("00000000-0000-7000-8000-00000000000b", 1, "test", Instant.now())).isTrue();
            assertThat(store.markRunning("00000000-0000-7000-8000-00000000000b", 2, 2, "local", Instant.now())).isTrue();
        }
        try (TestServer kiln = TestServer.start("noop", c -> c.withDataDir(dataDir))) {
            JobResponse a = kiln.client.get("00000000-0000-7000-8000-00000000000a", 10);
            assertThat(a.status()).isEqualTo("succeeded");
            assertThat(a.attempt()).isEqualTo(2);
            var aRuns = kiln.client.executions(a.jobId()).path("executions");
            assertThat(aRuns).hasSize(2);
            assertThat(aRuns.get(0).path("status").asString()).isEqualTo("interrupted");
            assertThat(aRuns.get(0).path("error").path("message").asString())
                    .isEqualTo("interrupted by an orchestrator restart");
            assertThat(aRuns.get(1).path("status").asString()).isEqualTo("succeeded");

            JobResponse b = kiln.client.get("00000000-0000-7000-8000-00000000000b", 10);
            assertThat(b.status()).isEqualTo("failed");
            assertThat(b.error().type()).isEqualTo("sandbox_error");
            assertThat(b.error().message()).contains("attempt 2 of 2").contains("no attempts are left");
            var bRuns = kiln.client.executions(b.jobId()).path("executions");
            assertThat(bRuns).extracting(e -> e.path("status").asString()).containsExactly("interrupted", "failed");

            JobResponse c = kiln.client.get("00000000-0000-7000-8000-00000000000c", 10);
            assertThat(c.status()).isEqualTo("succeeded");
            assertThat(c.attempt()).isEqualTo(1);
        }
    }

    private static void insert(JobStore store, String id, JobSpec spec) {
        store.insert(new NewJob(id, spec, SpecHash.of(spec), null, 2, Instant.now()));
    }
}
