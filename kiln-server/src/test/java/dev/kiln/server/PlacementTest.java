package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnApiException;
import java.time.Duration;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Placement by node labels: constraints, readable reasons, and a waiting job never blocks the ones behind it. */
class PlacementTest {
    private static TestServer kiln;

    @BeforeAll
    static void start() throws Exception {
        kiln = TestServer.start("noop", c -> c.withLabels(Map.of("zone", "a", "tier", "gold")));
    }

    @AfterAll
    static void stop() throws Exception {
        kiln.close();
    }

    private static JobResponse run(String... constraints) {
        return kiln.client.execute(JobRequest.python("pass").withConstraints(constraints));
    }

    @Test
    void jobsRunWhereTheNodesLabelsSatisfyTheirConstraints() {
        for (String[] c : new String[][]{{"zone=a"}, {"zone in (a,b)"}, {"zone exists"}, {"gpu!=true"},
                {"zone=a", "tier=gold"}, {"arch exists", "executors exists"}}) {
            JobResponse r = run(c);
            assertThat(r.status()).as(String.join(" & ", c)).isEqualTo("succeeded");
            assertThat(r.nodeId()).isEqualTo("local");
            assertThat(r.constraints()).containsExactly(c);
        }
    }

    @Test
    void thousandsOfJobsThatFitNowhereDoNotHoldUpOneThatFits() {
        // More than a round's scan once was (1,024): the dispatcher must not look at them one by one.
        java.util.List<String> stuck = new java.util.ArrayList<>();
        for (int i = 0; i < 1_100; i++) {
            stuck.add(kiln.client.submit(JobRequest.python("pass").withConstraints("zone=nowhere")).jobId());
        }
        JobResponse fits = kiln.client.submit(JobRequest.python("pass"));
        assertThat(kiln.client.get(fits.jobId(), 20).status()).isEqualTo("succeeded");
        assertThat(kiln.client.get(stuck.getLast(), 0).queueReason()).isEqualTo("1 node, 0 match zone=nowhere");
        for (String id : stuck) kiln.client.cancel(id);
        assertThat(kiln.client.get(stuck.getFirst(), 0).status()).isEqualTo("cancelled");
    }

    @Test
    void aJobThatWaitsPastItsQueueTimeoutFailsWithTheReason() {
        JobResponse job = kiln.client.submit(JobRequest.python("pass").withConstraints("gpu=true").withQueueTimeout(1));
        JobResponse done = kiln.client.get(job.jobId(), 20);
        assertThat(done.status()).isEqualTo("failed");
        assertThat(done.error().type()).isEqualTo("queue_timeout");
        assertThat(done.error().phase()).isEqualTo("queue");
        assertThat(done.error().message()).contains("queue_timeout of 1 s").endsWith(": 1 node, 0 match gpu=true");
        assertThat(kiln.client.executions(job.jobId()).path("executions")).isEmpty();
    }

    @Test
    void aJobTypesQueueTimeoutAppliesToItsJobs() {
        kiln.client.putJobType("impatient", Map.of("queue_timeout", 1, "executor", "noop"));
        try {
            JobResponse job = kiln.client.submit(JobRequest.python("pass").withJobType("impatient")
                    .withConstraints("zone=b"));
            JobResponse done = kiln.client.get(job.jobId(), 20);
            assertThat(done.error().type()).isEqualTo("queue_timeout");
            assertThat(kiln.client.jobType("impatient").path("queue_timeout").intValue()).isEqualTo(1);
            // The job's own value wins over its type's.
            JobResponse patient = kiln.client.submit(JobRequest.python("pass").withJobType("impatient")
                    .withConstraints("zone=b").withQueueTimeout(600));
            Awaitility.await().pollDelay(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5))
                    .until(() -> kiln.client.get(patient.jobId(), 0).status().equals("queued"));
            assertThat(kiln.client.cancel(patient.jobId()).status()).isEqualTo("cancelled");
        } finally {
            kiln.client.deleteJobType("impatient");
        }
    }

    @Test
    void aBadQueueTimeoutIsRefusedNamingTheField() throws Exception {
        for (String bad : new String[]{"0", "-1", "1.5", "\"soon\"", String.valueOf(7 * 24 * 3600 + 1)}) {
            var r = kiln.post("/jobs", "{\"code\": \"pass\", \"queue_timeout\": " + bad + "}");
            assertThat(r.statusCode()).as(bad).isEqualTo(400);
            assertThat(r.body()).as(bad).contains("\"field\":\"queue_timeout\"").contains("604800");
        }
    }

    @Test
    void aJobThatFitsNowhereWaitsWithAReasonAndDoesNotBlockOthers() {
        JobResponse gpu = kiln.client.submit(JobRequest.python("pass").withConstraints("gpu=true"));
        JobResponse wrongZone = kiln.client.submit(JobRequest.python("pass").withConstraints("zone!=a"));
        JobResponse behind = kiln.client.submit(JobRequest.python("pass"));
        assertThat(kiln.client.get(behind.jobId(), 10).status()).isEqualTo("succeeded");
        Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> kiln.client.get(gpu.jobId(), 0).queueReason() != null);
        assertThat(kiln.client.get(gpu.jobId(), 0).status()).isEqualTo("queued");
        assertThat(kiln.client.get(gpu.jobId(), 0).queueReason()).isEqualTo("1 node, 0 match gpu=true");
        Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> "1 node, 0 match zone!=a".equals(kiln.client.get(wrongZone.jobId(), 0).queueReason()));
        assertThat(kiln.client.cancel(gpu.jobId()).status()).isEqualTo("cancelled");
        assertThat(kiln.client.cancel(wrongZone.jobId()).status()).isEqualTo("cancelled");
    }

    @Test
    void badConstraintsAreRefusedNamingTheEntry() {
        assertThatThrownBy(() -> run("zone", "gpu=true"))
                .isInstanceOfSatisfying(KilnApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.field()).isEqualTo("constraints[0]");
                    assertThat(e.getMessage()).contains("key=value, key!=value, key in (a,b) or key exists");
                });
    }

    @Test
    void nodesAreListedWithTheirLabelsAndCapacity() throws Exception {
        JsonNode nodes = new tools.jackson.databind.json.JsonMapper().readTree(kiln.get("/nodes").body());
        assertThat(nodes).hasSize(1);
        JsonNode local = nodes.get(0);
        assertThat(local.get("id").asString()).isEqualTo("local");
        assertThat(local.at("/labels/zone").asString()).isEqualTo("a");
        assertThat(local.at("/labels/arch").asString()).isNotBlank();
        assertThat(local.at("/labels/executors").asString()).contains("noop");
        assertThat(local.get("capacity").asInt()).isPositive();
        assertThat(kiln.get("/nodes/local").statusCode()).isEqualTo(200);
        assertThat(kiln.get("/nodes/elsewhere").statusCode()).isEqualTo(404);
    }

    @Test
    void aDrainedNodeTakesNoNewWorkUntilResumed() {
        assertThat(kiln.client.drainNode("local").get("status").asString()).isIn("draining", "drained");
        JobResponse waiting = kiln.client.submit(JobRequest.python("pass"));
        Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> kiln.client.get(waiting.jobId(), 0).queueReason() != null);
        assertThat(kiln.client.get(waiting.jobId(), 0).status()).isEqualTo("queued");
        assertThat(kiln.client.get(waiting.jobId(), 0).queueReason()).isEqualTo("1 node, 1 draining");
        assertThat(kiln.client.node("local").get("status").asString()).isEqualTo("drained");
        assertThat(kiln.client.resumeNode("local").get("status").asString()).isEqualTo("ready");
        assertThat(kiln.client.get(waiting.jobId(), 10).status()).isEqualTo("succeeded");
        assertThatThrownBy(() -> kiln.client.drainNode("elsewhere"))
                .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(404));
    }

    /** A drain is kept in the store: the in-process node is still drained after a restart, until resumed. */
    @Test
    void aDrainHoldsAcrossARestart() throws Exception {
        TestServer first = TestServer.start("noop", c -> c);
        first.client.drainNode("local");
        TestServer second = first.restarted(); // same data directory; the first one is stopped
        try {
            assertThat(second.client.node("local").get("status").asString()).isEqualTo("drained");
            JobResponse waiting = second.client.submit(JobRequest.python("pass"));
            Awaitility.await().atMost(Duration.ofSeconds(5))
                    .until(() -> second.client.get(waiting.jobId(), 0).queueReason() != null);
            assertThat(second.client.get(waiting.jobId(), 0).status()).isEqualTo("queued");
            second.client.resumeNode("local");
            assertThat(second.client.get(waiting.jobId(), 10).status()).isEqualTo("succeeded");
        } finally {
            second.close();
        }
    }
}
