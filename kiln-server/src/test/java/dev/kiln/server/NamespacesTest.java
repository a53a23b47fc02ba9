package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnApiException;
import dev.kiln.client.KilnClient;
import dev.kiln.server.auth.AuthMode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import tools.jackson.databind.JsonNode;

/**
 * Namespaces: key A cannot see key B's job on any endpoint (404, exactly as a job that does not exist), does not
 * list it, and shares no idempotency keys with it; an admin sees every namespace's jobs and can pick one.
 */
class NamespacesTest {
    private static TestServer kiln;
    private static KilnClient admin;
    private static KilnClient teamA;
    private static KilnClient teamB;
    private static String keyB;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        kiln = TestServer.start("noop", c -> c.withAuthMode(AuthMode.REQUIRED));
        admin = kiln.client.withApiKey(Files.readString(kiln.dataDir.resolve("admin.key")).strip());
        JsonNode a = admin.createKey("team-a", "user");
        JsonNode b = admin.createKey("team-b", "user");
        teamA = kiln.client.withApiKey(a.path("key").asString());
        keyB = b.path("key").asString();
        teamB = kiln.client.withApiKey(keyB);
    }

    @AfterAll
    static void stop() throws Exception {
        if (kiln != null) kiln.close();
    }

    private static void assertNotFound(Executable call) {
        assertThatThrownBy(call::execute)
                .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(404));
    }

    @Test
    void anotherNamespacesJobIsNotFoundOnEveryEndpoint() throws Exception {
        JobResponse job = teamA.execute(JobRequest.python("print('a')"));
        assertThat(job.status()).isEqualTo("succeeded");
        String id = job.jobId();
        assertThat(teamA.get(id, 0).jobId()).isEqualTo(id);

        assertNotFound(() -> teamB.get(id, 0));
        assertNotFound(() -> teamB.get(id, 2));
        assertNotFound(() -> teamB.executions(id));
        assertNotFound(() -> teamB.cancel(id));
        assertNotFound(() -> teamB.artifact(id, "result.json"));
        HttpResponse<String> output = HTTP.send(HttpRequest.newBuilder(URI.create(kiln.server.baseUrl() + "/jobs/"
                + id + "/output")).header("Authorization", "Bearer " + keyB).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(output.statusCode()).isEqualTo(404);
        // The same answer as for a job that never existed: nothing tells the two apart.
        KilnApiException missing = catchApi(() -> teamB.get("no-such-job", 0));
        KilnApiException hidden = catchApi(() -> teamB.get(id, 0));
        assertThat(hidden.getMessage()).isEqualTo(missing.getMessage().replace("no-such-job", id));
    }

    @Test
    void eachKeyListsItsOwnNamespaceAndAnAdminListsAll() {
        String a = teamA.submit(JobRequest.python("print(1)")).jobId();
        String b = teamB.submit(JobRequest.python("print(2)")).jobId();
        assertThat(ids(teamA.list(null, 100, null).jobs())).contains(a).doesNotContain(b);
        assertThat(ids(teamB.list(null, 100, null).jobs())).contains(b).doesNotContain(a);
        assertThat(ids(admin.list(null, 100, null).jobs())).contains(a, b);
        JsonNode viewed = admin.executions(a); // an admin reaches any namespace's job
        assertThat(viewed.path("job_id").asString()).isEqualTo(a);
        assertThat(teamA.get(a, 10).namespace()).isEqualTo("team-a");
        assertThat(admin.get(b, 10).submittedBy()).startsWith("key_");
    }

    @Test
    void idempotencyKeysArePerNamespace() {
        String inA = teamA.submit(JobRequest.python("print(1)").withIdempotencyKey("order-17")).jobId();
        String inB = teamB.submit(JobRequest.python("print(1)").withIdempotencyKey("order-17")).jobId();
        assertThat(inB).isNotEqualTo(inA);
        assertThat(teamA.submit(JobRequest.python("print(1)").withIdempotencyKey("order-17")).jobId()).isEqualTo(inA);
        assertThatThrownBy(() -> teamA.submit(JobRequest.python("print(1)").withIdempotencyKey("bad\u001fkey")))
                .isInstanceOfSatisfying(KilnApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.field()).isEqualTo("idempotency_key");
                });
    }

    private static KilnApiException catchApi(Executable call) {
        try {
            call.execute();
        } catch (KilnApiException e) {
            return e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        throw new AssertionError("no error");
    }

    private static List<String> ids(List<JobResponse> jobs) {
        List<String> ids = new ArrayList<>();
        jobs.forEach(j -> ids.add(j.jobId()));
        return ids;
    }
}
