package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.server.config.NodeSettings;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HexFormat;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The orchestrator's side of the node protocol, spoken by hand over the long-poll transport against a real server:
 * handshake checks, push, results, stale results, hostile artifacts, lease expiry and reconnect reconciliation.
 */
class NodeGatewayTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private TestServer kiln;

    @BeforeEach
    void start() throws Exception {
        kiln = TestServer.start("noop", c -> c.withNodes(NodeSettings.DEFAULTS.withLocalNode(false)
                .withJoinToken("s3cret").withLease(800, 200))
                .withJobTypes(java.util.List.of(dev.kiln.core.JobType.defaults("other"))));
    }

    @AfterEach
    void stop() throws Exception {
        kiln.close();
    }

    private String hello(String nodeId, String token, String holding) {
        return hello(nodeId, token, holding, "{}");
    }

    private String hello(String nodeId, String token, String holding, String typeSlots) {
        return helloInterrupted(nodeId, token, holding, typeSlots, "[]");
    }

    private String helloInterrupted(String nodeId, String token, String holding, String typeSlots,
                                    String interrupted) {
        return """
                {"type":"hello","protocol":2,"node_id":"%s","token":"%s","labels":{"zone":"a"},"slots":2,
                 "executors":["noop"],"default_executor":"noop","job_types":null,"holding":%s,"type_slots":%s,
                 "interrupted":%s}
                """.formatted(nodeId, token, holding, typeSlots, interrupted);
    }

    private HttpResponse<String> post(String path, String session, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(kiln.server.baseUrl() + path))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (session != null) b.header("X-Kiln-Session", session);
        return kiln.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode poll(String session, int wait) throws Exception {
        HttpResponse<String> r = kiln.http.send(HttpRequest.newBuilder(URI.create(kiln.server.baseUrl()
                + "/node-api/v1/messages?wait=" + wait)).header("X-Kiln-Session", session).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private String join(String nodeId, String holding) throws Exception {
        HttpResponse<String> r = post("/node-api/v1/session", null, hello(nodeId, "s3cret", holding));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode welcome = JSON.readTree(r.body());
        assertThat(welcome.get("type").asString()).isEqualTo("welcome");
        return welcome.get("session").asString();
    }

    private final java.util.ArrayDeque<JsonNode> received = new java.util.ArrayDeque<>();

    /** The next execute message pushed to the session, acknowledged as a node does (heartbeating meanwhile). */
    private JsonNode nextExecute(String session) throws Exception {
        JsonNode execute = next(session, "execute");
        post("/node-api/v1/messages", session, ack(execute));
        return execute;
    }

    /** The next message of {@code type} pushed to the session (heartbeating meanwhile, as a node does). */
    private JsonNode next(String session, String type) throws Exception {
        for (int i = 0; i < 20; i++) {
            while (!received.isEmpty()) {
                JsonNode m = received.poll();
                if (m.get("type").asString().equals(type)) return m;
            }
            post("/node-api/v1/messages", session, "[{\"type\":\"heartbeat\",\"free\":0,\"running\":0}]");
            poll(session, 1).forEach(received::add);
        }
        throw new AssertionError("no " + type + " message arrived");
    }

    private static String ack(JsonNode reliable) {
        return "[{\"type\":\"ack\",\"seq\":" + reliable.get("seq").asLong() + "}]";
    }

    private static final java.util.concurrent.atomic.AtomicLong SEQS = new java.util.concurrent.atomic.AtomicLong();

    private static String result(String executionId, String stdout, String artifacts) {
        return result(SEQS.incrementAndGet(), executionId, stdout, artifacts);
    }

    private static String result(long seq, String executionId, String stdout, String artifacts) {
        return """
                [{"type":"started","execution_id":"%1$s"},
                 {"type":"result","seq":%4$d,"execution_id":"%1$s","result":{"status":"succeeded","exit_code":0,
                  "stdout":"%2$s","stderr":"","stdout_truncated":false,"stderr_truncated":false,"output_json":null,
                  "error":null,"startup_ms":1,"execution_ms":1,"layer_digest":null,"artifacts":%3$s}}]
                """.formatted(executionId, stdout, artifacts, seq);
    }

    @Test
    void handshakesThatBreakTheRulesAreRefusedNamingTheField() throws Exception {
        HttpResponse<String> wrongToken = post("/node-api/v1/session", null, hello("n1", "nope", "[]"));
        assertThat(wrongToken.statusCode()).isEqualTo(401);
        assertThat(wrongToken.body()).contains("unauthorized").contains("token");

        HttpResponse<String> notJson = post("/node-api/v1/session", null, "{nope");
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(notJson.body()).contains("bad_message");

        HttpResponse<String> noSlots = post("/node-api/v1/session", null,
                hello("n1", "s3cret", "[]").replace("\"slots\":2,", ""));
        assertThat(noSlots.statusCode()).isEqualTo(400);
        assertThat(noSlots.body()).contains("slots");

        HttpResponse<String> badId = post("/node-api/v1/session", null, hello("../etc", "s3cret", "[]"));
        assertThat(badId.statusCode()).isEqualTo(400);
        assertThat(badId.body()).contains("node_id");

        HttpResponse<String> noSession = post("/node-api/v1/messages", "unknown", "[]");
        assertThat(noSession.statusCode()).isEqualTo(409);
        assertThat(noSession.body()).contains("session_expired");
        assertThat(kiln.client.nodes()).isEmpty();
    }

    @Test
    void workIsPushedAndItsResultRecordedOnceThenAcknowledged() throws Exception {
        String session = join("n1", "[]");
        JobResponse job = kiln.client.submit(JobRequest.python("print('hi')"));
        JsonNode execute = nextExecute(session);
        assertThat(execute.get("job_id").asString()).isEqualTo(job.jobId());
        assertThat(execute.at("/spec/code").asString()).isEqualTo("print('hi')");
        String exec = execute.get("execution_id").asString();

        assertThat(post("/node-api/v1/messages", session, result(41, exec, "hi\\n", "[]")).statusCode())
                .isEqualTo(204);
        JobResponse done = kiln.client.get(job.jobId(), 10);
        assertThat(done.status()).isEqualTo("succeeded");
        assertThat(done.stdout()).isEqualTo("hi\n");
        assertThat(done.nodeId()).isEqualTo("n1");
        assertThat(next(session, "ack").get("seq").asLong()).isEqualTo(41);

        // The same result again (a node resending after a reconnect) is acknowledged and dropped.
        post("/node-api/v1/messages", session, result(41, exec, "again\\n", "[]"));
        assertThat(next(session, "ack").get("seq").asLong()).isEqualTo(41);
        assertThat(kiln.client.get(job.jobId(), 0).stdout()).isEqualTo("hi\n");
        assertThat(kiln.get("/metrics").body()).contains("kiln_node_results_dropped_total 1.0");
    }

    @Test
    void aNodeRunsNoMoreJobsOfACappedTypeThanItAllows() throws Exception {
        HttpResponse<String> r = post("/node-api/v1/session", null, hello("n1", "s3cret", "[]", "{\"default\":1}"));
        String session = JSON.readTree(r.body()).get("session").asString();
        assertThat(kiln.client.node("n1").at("/type_slots/default").asInt()).isEqualTo(1);
        JobResponse first = kiln.client.submit(JobRequest.python("pass"));
        JobResponse second = kiln.client.submit(JobRequest.python("pass"));
        JobResponse other = kiln.client.submit(JobRequest.python("pass").withJobType("other"));

        JsonNode a = nextExecute(session);
        JsonNode b = nextExecute(session);
        assertThat(java.util.List.of(a.get("job_id").asString(), b.get("job_id").asString()))
                .as("one default job and the other type's: the node's second slot").containsExactlyInAnyOrder(
                        first.jobId(), other.jobId());
        assertThat(kiln.client.get(second.jobId(), 0).status()).isEqualTo("queued");

        String firstExec = (a.get("job_id").asString().equals(first.jobId()) ? a : b).get("execution_id").asString();
        post("/node-api/v1/messages", session, result(firstExec, "", "[]"));
        assertThat(nextExecute(session).get("job_id").asString()).as("the capped type's slot came back")
                .isEqualTo(second.jobId());
    }

    @Test
    void typeSlotsAboveTheNodesSlotsAreRefused() throws Exception {
        HttpResponse<String> r = post("/node-api/v1/session", null, hello("n1", "s3cret", "[]", "{\"default\":3}"));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("type_slots.default");
    }

    @Test
    void artifactsWhoseBytesDoNotMatchTheirHashFailTheJob() throws Exception {
        String session = join("n1", "[]");
        JobResponse job = kiln.client.submit(JobRequest.python("pass"));
        String exec = nextExecute(session).get("execution_id").asString();
        String lying = "[{\"name\":\"a.txt\",\"size\":2,\"sha256\":\"" + HexFormat.of().formatHex(new byte[32])
                + "\",\"content\":\"aGk=\"}]";
        post("/node-api/v1/messages", session, result(exec, "", lying));
        JobResponse done = kiln.client.get(job.jobId(), 10);
        assertThat(done.status()).isEqualTo("failed");
        assertThat(done.error().type()).isEqualTo("sandbox_error");
        assertThat(done.error().message()).contains("sha256");
        assertThat(done.artifacts()).isEmpty();
    }

    @Test
    void aSilentNodeIsLostAndItsWorkReturnsToItAfterReconnecting() throws Exception {
        String session = join("n1", "[]");
        JobResponse job = kiln.client.submit(JobRequest.python("pass"));
        String first = nextExecute(session).get("execution_id").asString();
        // No heartbeat: the 800 ms lease runs out.
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() ->
                kiln.client.node("n1").get("status").asString().equals("lost"));
        Awaitility.await().until(() -> kiln.client.get(job.jobId(), 0).status().equals("queued"));

        // It comes back still holding the old execution: told to cancel it, and given the re-run.
        HttpResponse<String> r = post("/node-api/v1/session", null, hello("n1", "s3cret", "[\"" + first + "\"]"));
        JsonNode welcome = JSON.readTree(r.body());
        assertThat(welcome.get("cancel").toString()).contains(first);
        String again = welcome.get("session").asString();
        String second = nextExecute(again).get("execution_id").asString();
        assertThat(second).isNotEqualTo(first).endsWith("-2");
        post("/node-api/v1/messages", again, result(first, "stale\\n", "[]"));
        post("/node-api/v1/messages", again, result(second, "fresh\\n", "[]"));
        JobResponse done = kiln.client.get(job.jobId(), 10);
        assertThat(done.status()).isEqualTo("succeeded");
        assertThat(done.stdout()).isEqualTo("fresh\n");
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(kiln.get("/metrics").body()).contains("kiln_node_leases_expired_total 1.0")
                .contains("kiln_jobs_finished_total{status=\"succeeded\"} 1.0");
    }

    @Test
    void anExecuteOrCancelTheNodeDoesNotAcknowledgeIsSentAgainAlsoAfterItReconnects() throws Exception {
        String session = join("n1", "[]");
        JobResponse job = kiln.client.submit(JobRequest.python("pass"));
        JsonNode execute = next(session, "execute"); // not acknowledged: the answer to this GET got lost, say
        JsonNode again = next(session, "execute");
        assertThat(again.get("seq").asLong()).as("the same message, resent").isEqualTo(execute.get("seq").asLong());
        String exec = execute.get("execution_id").asString();
        post("/node-api/v1/messages", session, ack(execute));

        Thread.ofVirtual().start(() -> {
            try {
                kiln.client.cancel(job.jobId()); // waits for the job to end
            } catch (RuntimeException e) {
                // the assertions below tell
            }
        });
        JsonNode cancel = next(session, "cancel");
        assertThat(cancel.get("execution_id").asString()).isEqualTo(exec);

        // The node reconnects before acknowledging it: the cancel comes again after the welcome.
        received.clear();
        String second = join("n1", "[\"" + exec + "\"]");
        JsonNode cancelAgain = next(second, "cancel");
        assertThat(cancelAgain.get("seq").asLong()).isEqualTo(cancel.get("seq").asLong());
        post("/node-api/v1/messages", second, ack(cancelAgain));
        post("/node-api/v1/messages", second, """
                [{"type":"result","seq":77,"execution_id":"%s","result":{"status":"cancelled","exit_code":null,
                  "stdout":"","stderr":"","stdout_truncated":false,"stderr_truncated":false,"output_json":null,
                  "error":{"type":"cancelled","message":"cancelled","phase":"execution"},"startup_ms":1,
                  "execution_ms":1,"layer_digest":null,"artifacts":[]}}]""".formatted(exec));
        assertThat(kiln.client.get(job.jobId(), 10).status()).isEqualTo("cancelled");
        assertThat(next(second, "ack").get("seq").asLong()).isEqualTo(77);
    }

    @Test
    void executionsANodeStoppedItselfRunAgainAtOnceAlsoAfterAnOrchestratorRestart() throws Exception {
        String session = join("n1", "[]");
        JobResponse job = kiln.client.submit(JobRequest.python("pass"));
        String first = nextExecute(session).get("execution_id").asString();
        post("/node-api/v1/messages", session, "[{\"type\":\"started\",\"execution_id\":\"" + first + "\"}]");
        // The orchestrator restarts; meanwhile the node, cut off past its lease, stopped the execution.
        kiln = kiln.restarted();
        received.clear();

        long back = System.nanoTime();
        HttpResponse<String> r = post("/node-api/v1/session", null,
                helloInterrupted("n1", "s3cret", "[]", "{}", "[\"" + first + "\"]"));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode welcome = JSON.readTree(r.body());
        assertThat(welcome.get("cancel").toString()).doesNotContain(first);
        JsonNode again = nextExecute(welcome.get("session").asString());
        assertThat(again.get("execution_id").asString()).endsWith("-2");
        assertThat((System.nanoTime() - back) / 1_000_000).as("ms until the re-run was pushed: not after the "
                + "10 s node_reconnect_grace").isLessThan(5_000);
        post("/node-api/v1/messages", welcome.get("session").asString(),
                result(again.get("execution_id").asString(), "again\\n", "[]"));
        JobResponse done = kiln.client.get(job.jobId(), 10);
        assertThat(done.status()).isEqualTo("succeeded");
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(done.error()).isNull();
    }
}
