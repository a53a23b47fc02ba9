package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.client.JobList;
import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnApiException;
import dev.kiln.server.http.OpenApiDocument;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The async API, listing, idempotency, health, metrics and OpenAPI, over real HTTP (noop executor), on one server
 * with SQLite; {@link ReplicasJobsApiTest} runs the same suite against a replica on PostgreSQL.
 */
@org.junit.jupiter.api.TestInstance(org.junit.jupiter.api.TestInstance.Lifecycle.PER_CLASS)
class JobsApiTest {
    protected static TestServer kiln;

    @BeforeAll
    void start() throws Exception {
        kiln = startServer();
    }

    /** The server the suite talks to. */
    protected TestServer startServer() throws Exception {
        return TestServer.start("noop", c -> c);
    }

    @AfterAll
    void stop() throws Exception {
        try {
            kiln.close();
        } finally {
            kiln = null;
            stopped();
        }
    }

    /** After the suite's server closed. */
    protected void stopped() throws Exception {
    }

    @Test
    void submitThenWaitForTheResult() {
        JobResponse accepted = kiln.client.submit(JobRequest.python("print(1)"));
        assertThat(accepted.jobId()).isNotBlank();
        JobResponse done = kiln.client.get(accepted.jobId(), 10);
        assertThat(done.status()).isEqualTo("succeeded");
        assertThat(done.success()).isTrue();
        assertThat(done.exitCode()).isZero();
        assertThat(done.attempt()).isEqualTo(1);
        assertThat(done.finishedAt()).isNotNull();
    }

    @Test
    void executionsListEachAttemptWithNodeStatusAndTimings() {
        JobResponse done = kiln.client.execute(JobRequest.python("print(1)"));
        JsonNode list = kiln.client.executions(done.jobId());
        assertThat(list.path("job_id").asString()).isEqualTo(done.jobId());
        assertThat(list.path("executions")).hasSize(1);
        JsonNode e = list.path("executions").get(0);
        assertThat(e.path("execution_id").asString()).isEqualTo(done.jobId() + "-1");
        assertThat(e.path("attempt").intValue()).isEqualTo(1);
        assertThat(e.path("node_id").asString()).isEqualTo(done.nodeId());
        assertThat(e.path("status").asString()).isEqualTo("succeeded");
        assertThat(e.path("exit_code").intValue()).isZero();
        assertThat(e.path("started_at").asString()).isNotBlank();
        assertThat(e.path("deadline_at").asString()).isGreaterThan(e.path("started_at").asString());
        assertThat(e.path("finished_at").asString()).isNotBlank();
        assertThat(e.path("duration_ms").isNumber()).isTrue();
        assertThat(e.path("error").isNull()).isTrue();

        assertThatThrownBy(() -> kiln.client.executions("00000000-0000-7000-8000-000000000000"))
                .isInstanceOfSatisfying(KilnApiException.class, ex -> assertThat(ex.status()).isEqualTo(404));
    }

    @Test
    void idempotencyKeyReturnsTheSameJobAndConflictsOnADifferentBody() {
        JobRequest r = JobRequest.python("print('idem')").withIdempotencyKey("key-1");
        JobResponse first = kiln.client.submit(r);
        JobResponse again = kiln.client.submit(r);
        assertThat(again.jobId()).isEqualTo(first.jobId());
        assertThatThrownBy(() -> kiln.client.submit(JobRequest.python("print('other')").withIdempotencyKey("key-1")))
                .isInstanceOfSatisfying(KilnApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(409);
                    assertThat(e.field()).isEqualTo("idempotency_key");
                });
    }

    @Test
    void theSameInputDataWithKeysInAnotherOrderIsTheSameRequest() throws Exception {
        var first = kiln.post("/jobs", "{\"code\": \"pass\", \"idempotency_key\": \"order-1\", "
                + "\"input_data\": {\"b\": 1, \"a\": {\"y\": [1, {\"q\": 2, \"p\": 3}], \"x\": null}}}");
        var again = kiln.post("/jobs", "{\"input_data\": {\"a\": {\"x\": null, \"y\": [1, {\"p\": 3, \"q\": 2}]}, "
                + "\"b\": 1}, \"idempotency_key\": \"order-1\", \"code\": \"pass\"}");
        assertThat(first.statusCode()).isEqualTo(202);
        assertThat(again.statusCode()).isEqualTo(202);
        assertThat(again.headers().firstValue("Location")).isEqualTo(first.headers().firstValue("Location"));
        // An array in another order is other data.
        var other = kiln.post("/jobs", "{\"code\": \"pass\", \"idempotency_key\": \"order-1\", "
                + "\"input_data\": {\"b\": 1, \"a\": {\"y\": [{\"q\": 2, \"p\": 3}, 1], \"x\": null}}}");
        assertThat(other.statusCode()).isEqualTo(409);
    }

    @Test
    void executeTakesAnIdempotencyKeyToo() {
        JobRequest r = JobRequest.python("print('once')").withIdempotencyKey("exec-key-1");
        JobResponse first = kiln.client.execute(r);
        JobResponse again = kiln.client.execute(r);
        assertThat(first.status()).isEqualTo("succeeded");
        assertThat(again.jobId()).isEqualTo(first.jobId());
        assertThat(again.status()).isEqualTo("succeeded");
        assertThat(kiln.client.executions(first.jobId()).path("executions")).hasSize(1);
        assertThatThrownBy(() -> kiln.client.execute(JobRequest.python("print(2)").withIdempotencyKey("exec-key-1")))
                .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(409));
    }

    @Test
    void listsNewestFirstWithCursorAndStatusFilter() {
        Set<String> mine = new HashSet<>();
        for (int i = 0; i < 7; i++) mine.add(kiln.client.execute(JobRequest.python("print(" + i + ")")).jobId());
        Set<String> seen = new HashSet<>();
        String cursor = null;
        String previousCreated = null;
        do {
            JobList page = kiln.client.list("succeeded", 3, cursor);
            assertThat(page.jobs().size()).isLessThanOrEqualTo(3);
            for (JobResponse j : page.jobs()) {
                assertThat(j.status()).isEqualTo("succeeded");
                if (previousCreated != null) assertThat(j.createdAt()).isLessThanOrEqualTo(previousCreated);
                previousCreated = j.createdAt();
                assertThat(seen.add(j.jobId())).isTrue();
            }
            cursor = page.nextCursor();
        } while (cursor != null);
        assertThat(seen).containsAll(mine);
        assertThat(kiln.client.list("cancelled", 10, null).jobs()).isEmpty();
    }

    @Test
    void cancelOfAFinishedJobIsAConflict() {
        JobResponse done = kiln.client.execute(JobRequest.python("pass"));
        assertThatThrownBy(() -> kiln.client.cancel(done.jobId()))
                .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(409));
    }

    @Test
    void healthReportsStoreQueueAndCapacity() {
        JsonNode h = kiln.client.health();
        assertThat(h.get("status").asString()).isEqualTo("ok");
        assertThat(h.get("store").asString()).isEqualTo("ok");
        assertThat(h.get("capacity").asInt()).isPositive();
        assertThat(h.has("queue_depth")).isTrue();
        assertThat(h.has("running")).isTrue();
    }

    @Test
    void metricsArePrometheusText() throws Exception {
        kiln.client.execute(JobRequest.python("pass"));
        String metrics = kiln.get("/metrics").body();
        assertThat(metrics).contains("kiln_jobs_finished_total{status=\"succeeded\"}")
                .contains("kiln_queue_depth").contains("kiln_jobs{status=\"running\"}")
                .contains("kiln_job_total_seconds_bucket");
    }

    @Test
    void openApiIsServedAndDocsCopyIsTheSame() throws Exception {
        String served = kiln.get("/openapi.json").body();
        JsonNode doc = new JsonMapper().readTree(served);
        assertThat(doc.get("openapi").asString()).startsWith("3.");
        assertThat(doc.at("/paths").has("/execute")).isTrue();
        Path docs = Path.of("..", "docs", "openapi.json");
        assertThat(Files.readString(docs)).isEqualTo(new String(OpenApiDocument.bytes()));
    }

    @Test
    void jobTypesListsTheBuiltInDefault() {
        JsonNode types = kiln.client.jobTypes();
        assertThat(types.toString()).contains("\"name\":\"default\"").contains("\"memory_limit\":\"512m\"");
    }
}
