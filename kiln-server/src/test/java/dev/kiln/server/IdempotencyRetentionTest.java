package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.client.JobRequest;
import org.junit.jupiter.api.Test;

/** An idempotency key stands for its job for idempotency_retention; after that the same key makes a new job. */
class IdempotencyRetentionTest {
    @Test
    void aKeyPastItsRetentionIsFreeAgain() throws Exception {
        try (TestServer kiln = TestServer.start("noop", c -> c.withIdempotencyRetentionSeconds(1))) {
            JobRequest r = JobRequest.python("pass").withIdempotencyKey("daily-report");
            String first = kiln.client.submit(r).jobId();
            assertThat(kiln.client.submit(r).jobId()).isEqualTo(first);
            Thread.sleep(1_100); // the retention is a second: not a timing assertion, the key is simply older
            String second = kiln.client.submit(r).jobId();
            assertThat(second).isNotEqualTo(first);
            assertThat(kiln.client.submit(r).jobId()).isEqualTo(second);
            // The first job is still there, without its key.
            assertThat(kiln.client.get(first, 10).status()).isEqualTo("succeeded");
            // A different body under the key of a job past retention is no conflict.
            Thread.sleep(1_100);
            JobRequest other = JobRequest.python("print(2)").withIdempotencyKey("daily-report");
            assertThat(kiln.client.submit(other).jobId()).isNotIn(first, second);
        }
    }
}
