package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.http.HttpResponse;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A full queue answers 503 with Retry-After, and accepts again once there is room. */
class QueueLimitTest {
    @Test
    void fullQueueIs503WithRetryAfter() throws Exception {
        assumeTrue(TestServer.bwrapUsable(), "needs /usr/bin/bwrap, root and cgroups (not available here)");
        try (TestServer kiln = TestServer.start("bwrap", c -> c.withSlots(1).withMaxQueueSize(1))) {
            String sleeper = "{\"code\": \"import time\\ntime.sleep(3)\"}";
            HttpResponse<String> running = kiln.post("/jobs", sleeper);
            assertThat(running.statusCode()).isEqualTo(202);
            Awaitility.await().until(() -> kiln.server.orchestrator().runningCount() == 1);
            String keyed = "{\"code\": \"import time\\ntime.sleep(3)\", \"idempotency_key\": \"k-1\"}";
            HttpResponse<String> waiting = kiln.post("/jobs", keyed);
            assertThat(waiting.statusCode()).isEqualTo(202); // waits in the queue
            // The queue is full now, but a retry of the accepted request gets its job, not a 503.
            HttpResponse<String> retried = kiln.post("/jobs", keyed);
            assertThat(retried.statusCode()).isEqualTo(202);
            assertThat(retried.headers().firstValue("Location")).isEqualTo(waiting.headers().firstValue("Location"));
            HttpResponse<String> refused = kiln.post("/jobs", sleeper);
            assertThat(refused.statusCode()).isEqualTo(503);
            assertThat(refused.headers().firstValue("Retry-After")).hasValue("1");
            assertThat(refused.body()).contains("max_queue_size 1");
            Awaitility.await().atMost(java.time.Duration.ofSeconds(15))
                    .until(() -> kiln.server.orchestrator().queueDepth() == 0);
            assertThat(kiln.post("/jobs", "{\"code\": \"pass\"}").statusCode()).isEqualTo(202);
        }
    }

    @Test
    void cancelAQueuedJobAndARunningOne() throws Exception {
        assumeTrue(TestServer.bwrapUsable(), "needs /usr/bin/bwrap, root and cgroups (not available here)");
        try (TestServer kiln = TestServer.start("bwrap", c -> c.withSlots(1))) {
            var sleeper = dev.kiln.client.JobRequest.python("import time\ntime.sleep(30)");
            var running = kiln.client.submit(sleeper);
            Awaitility.await().until(() -> kiln.client.get(running.jobId(), 0).status().equals("running"));
            var queued = kiln.client.submit(sleeper);
            var cancelledQueued = kiln.client.cancel(queued.jobId());
            assertThat(cancelledQueued.status()).isEqualTo("cancelled");
            assertThat(cancelledQueued.error().phase()).isEqualTo("queue");
            assertThat(cancelledQueued.attempt()).isZero();
            var cancelledRunning = kiln.client.cancel(running.jobId());
            assertThat(cancelledRunning.status()).isEqualTo("cancelled");
            assertThat(kiln.server.orchestrator().runningCount()).isZero();
        }
    }
}
