package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.client.JobRequest;
import dev.kiln.client.KilnApiException;
import dev.kiln.server.config.KilnConfig;
import dev.kiln.server.config.KilnConfigLoader;
import org.junit.jupiter.api.Test;

/** Finished jobs go after the retention age (and at once with POST /gc); nothing that has not ended ever does. */
class RetentionTest {
    @Test
    void gcDeletesFinishedJobsWithTheirExecutionsArtifactsAndKeysButNothingUnfinished() throws Exception {
        try (TestServer kiln = TestServer.start("noop", c -> c)) {
            String done = kiln.client.execute(JobRequest.python("pass").withIdempotencyKey("nightly")).jobId();
            String waiting = kiln.client.submit(JobRequest.python("pass").withConstraints("gpu=true")).jobId();
            assertThat(kiln.client.gc("1h").path("deleted_jobs").asInt()).isZero(); // younger than an hour
            Thread.sleep(5); // the finished job is now strictly older than a zero age: not a timing assertion

            var r = kiln.client.gc("0s");
            assertThat(r.path("deleted_jobs").asInt()).isEqualTo(1);
            assertThat(r.path("older_than").asString()).isEqualTo("0s");
            assertThatThrownBy(() -> kiln.client.get(done, 0))
                    .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(404));
            assertThatThrownBy(() -> kiln.client.executions(done))
                    .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(404));
            assertThat(kiln.client.get(waiting, 0).status()).isEqualTo("queued");
            // Its idempotency key went with it.
            assertThat(kiln.client.submit(JobRequest.python("print(2)").withIdempotencyKey("nightly")).jobId())
                    .isNotEqualTo(done);

            for (String bad : new String[]{"{}", "{\"older_than\": \"soon\"}", "{\"older_than\": -1}",
                    "{\"older_than\": \"7d\", \"x\": 1}", "[]"}) {
                var refused = kiln.post("/gc", bad);
                assertThat(refused.statusCode()).as(bad).isEqualTo(400);
            }
            assertThat(kiln.post("/gc", "{\"older_than\": \"soon\"}").body()).contains("older_than")
                    .contains("30d");
            kiln.client.cancel(waiting);
        }
    }

    @Test
    void retentionIsConfiguredAsADuration() {
        KilnConfig c = KilnConfigLoader.parseYaml("kiln.yaml", "retention: 7d", KilnConfig.defaults());
        assertThat(c.retentionSeconds()).isEqualTo(7 * 86_400);
        assertThat(KilnConfig.defaults().retentionSeconds()).isEqualTo(30 * 86_400);
        assertThatThrownBy(() -> KilnConfigLoader.parseYaml("kiln.yaml", "retention: 30s", KilnConfig.defaults()))
                .hasMessageContaining("retention").hasMessageContaining("at least 1m");
        assertThatThrownBy(() -> KilnConfigLoader.parseYaml("kiln.yaml", "retention: forever", KilnConfig.defaults()))
                .hasMessageContaining("retention").hasMessageContaining("not a duration");
    }
}
